"""Page routes. The pages hold no data of their own: their scripts call the HTTP API (``/v1``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app import __version__
from app.domain import Unit
from app.service.deps import get_assistant, get_settings

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES = Jinja2Templates(directory=HERE / "templates")

# Nothing may come from outside this server: no CDN, no external font, no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, page: str, title: str) -> HTMLResponse:
    settings = get_settings(request)
    # When asking needs a key, even the unit names are not shown to anyone: the scripts load them with the key.
    units: list[Unit] = [] if settings.require_read_key else get_assistant(request).list_units()
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "page": page,
            "title": title,
            "units": units,
            "load_units": settings.require_read_key,
            "version": __version__,
            "root": request.scope.get("root_path", ""),
            "target_label": f"{settings.answer_rate_target * 100:g}%",
        },
    )
    response.headers.update(SECURITY_HEADERS)
    return response


@router.get("/", response_class=HTMLResponse)
def ask_page(request: Request) -> HTMLResponse:
    return _page(request, "ask.html", "ask", "Hỏi đáp")


@router.get("/quan-tri", response_class=HTMLResponse)
@router.get("/maintain", response_class=HTMLResponse)
def maintain_page(request: Request) -> HTMLResponse:
    return _page(request, "maintain.html", "maintain", "Quản trị tài liệu")


@router.get("/tong-quan", response_class=HTMLResponse)
@router.get("/overview", response_class=HTMLResponse)
def overview_page(request: Request) -> HTMLResponse:
    return _page(request, "overview.html", "overview", "Tổng quan các đơn vị")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request) -> HTMLResponse:
    return _page(request, "dashboard.html", "dashboard", "Bảng theo dõi")

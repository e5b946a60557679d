"""troly: a retrieval-augmented virtual assistant (trợ lý ảo) for Vietnamese government units."""

__version__ = "0.1.0"

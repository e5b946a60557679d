"""The LLM reader: an OpenAI-compatible chat model writes the answer from numbered passages.

``client`` speaks the chat API over httpx, ``breaker`` stops calling a dead server for a while,
``prompt`` holds the Vietnamese instructions, ``citing`` turns the model's ``[n]`` markers into
citations as the text streams, and ``reader`` puts them together behind
``app.answer.reader.Generator``.
"""

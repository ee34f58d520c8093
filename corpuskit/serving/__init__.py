"""Using a trained model: the generator interface trainers implement, the batching engine,
the OpenAI-compatible HTTP server (`corpuskit serve`) and the terminal chat (`corpuskit chat`).

Nothing here imports torch; the HTTP stack (FastAPI, uvicorn) is the `serve` extra and is
imported only by the server.
"""

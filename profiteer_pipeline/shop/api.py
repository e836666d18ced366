"""The shop's HTTP API (placeholder until the ingest issue fills it in)."""

from fastapi import FastAPI

app = FastAPI(title="Profiteer shop API")


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}

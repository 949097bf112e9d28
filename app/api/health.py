"""GET /healthz: liveness and database reachability."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from app.api.deps import Rt

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str


@router.get("/healthz", operation_id="health", summary="Liveness", response_model=Health)
async def health(rt: Rt) -> Health:
    await rt.db.read(lambda tx: tx.execute(text("SELECT 1")))
    return Health(status="ok", database=rt.db.dialect)

"""Answer modes. Each module here defines `create(settings) -> Answerer | None` (see rag.answering)."""

"""Post-answer stages. Each module here defines `STAGE`, an object with `name`, `order`,
`applies(ctx, answer)` and `apply(ctx, answer)` (see rag.answering.Stage)."""

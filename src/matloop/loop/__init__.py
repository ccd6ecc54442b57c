"""The loop: one cycle and the whole run (fit, acquire, dispatch, record, resume)."""

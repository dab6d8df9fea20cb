"""One module per stage: its table entry (``STAGE``, or ``BASELINE`` and ``ROUND``) beside
its body (``run_<stage>``) and the pure functions the body calls; ``spec.py`` defines an
entry, ``pipeline/stages/order.py`` and ``pipeline/stage_table.py`` collect them in order."""

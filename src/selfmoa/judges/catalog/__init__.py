"""Every judge the config can name: one module per judge or family of judges.

Each module declares its judges in a module-level ``JUDGES`` tuple of
``selfmoa.judges.spec.JudgeSpec`` beside the factories that build them;
``selfmoa.judges.registry`` imports every module here and collects them. A module here
must stay cheap to import: heavy imports (torch, transformers) go inside the factories.
Adding a judge is one new module here (see docs/extending.md).
"""

// Store suites for SQLite and PostgreSQL run in parallel classes; each uses its own database or schema.
[assembly: CollectionBehavior(MaxParallelThreads = 2)]

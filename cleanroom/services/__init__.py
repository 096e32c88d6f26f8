"""Use cases composed from policy, dp, engine, store and ingest; web and cli call only these."""

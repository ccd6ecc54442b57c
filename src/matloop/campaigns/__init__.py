"""Campaign files: the schema, loading TOML/YAML, and the candidate spaces."""

from matloop.campaigns.loader import load
from matloop.campaigns.schema import Campaign, Target

__all__ = ["Campaign", "Target", "load"]

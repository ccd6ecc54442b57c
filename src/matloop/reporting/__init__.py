"""Figures that show how good a campaign's models are, drawn from its store."""

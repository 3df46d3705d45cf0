"""Defuse simulator: personas, mood dynamics, the customer and the conversation engine."""

"""The upstream LLM APIs: one pooled HTTP client and an adapter per provider."""

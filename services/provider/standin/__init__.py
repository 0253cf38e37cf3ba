"""A stand-in for the OpenAI, Anthropic and OpenRouter APIs, so TokenMart runs offline.

``python -m services.provider.standin --port 8090`` serves it; ``make run`` starts it and points
provider's upstream base URLs at it; tests and benchmarks use it. It is a test tool: it never
holds a real key and answers anyone.
"""

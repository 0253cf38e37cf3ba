"""Provider's clients of other TokenMart services (auth for service tokens, wallet for holds)."""

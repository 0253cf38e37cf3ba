"""The provider service's operations: rules applied around transactions and remote calls."""

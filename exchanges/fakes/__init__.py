"""exchanges/fakes."""

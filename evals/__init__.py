"""forkwise evals: hand-labeled fork cases, the builder that turns them into real git repositories, the scorer."""

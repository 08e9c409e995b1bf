// The Kubernetes API client: configuration, models, list+watch reflectors.

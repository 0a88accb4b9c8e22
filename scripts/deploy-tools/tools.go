//go:build tools

// The tools the deployment tests use, pinned by go.mod/go.sum and built by scripts/setup
// into .tools/bin: kustomize renders the deploy/k8s overlays; compose-check (in this
// module) loads docker-compose.yml with the Compose Specification's reference loader.
package tools

import (
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)

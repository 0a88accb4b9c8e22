//go:build tools

// The tools the deployment tests use, pinned by go.mod/go.sum and built by scripts/setup
// into .tools/bin: kustomize renders deploy/k8s overlays, compose-spec (the reference
// loader of the Compose Specification) validates docker-compose.yml.
package tools

import (
	_ "github.com/compose-spec/compose-go/v2/cmd"
	_ "sigs.k8s.io/kustomize/kustomize/v5"
)

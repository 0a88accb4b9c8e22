// compose-check loads a Compose file the way `docker compose config` does, with the
// Compose Specification's reference loader (compose-go): schema validation, interpolation,
// normalisation and the consistency checks (services, volumes, networks, secrets and
// configs that are referenced but not defined; dependency cycles). It prints the loaded
// project as JSON, or the first problem on stderr and exits 1. No Docker engine is needed.
//
//	compose-check docker-compose.yml [override.yml ...]
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check COMPOSE_FILE [OVERRIDE_FILE ...]")
		os.Exit(2)
	}
	dir, err := filepath.Abs(filepath.Dir(os.Args[1]))
	if err != nil {
		fail(err)
	}
	opts, err := cli.NewProjectOptions(os.Args[1:],
		cli.WithWorkingDirectory(dir),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compose-check:", err)
	os.Exit(1)
}

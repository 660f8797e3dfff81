package main

import (
	"context"
	"log"
)

// newVariantStore opens the store of a variant other than raw.
func newVariantStore(_ context.Context, variant, _ string, _ int) Store {
	log.Fatalf("unknown variant %q", variant)
	return nil
}

package main

import (
	"fmt"
	"testing"
)

func TestZZ(t *testing.T) {
	for _, f := range []string{"/tmp/op/bad.yaml", "/tmp/op/bad2.yaml", "/tmp/op/bad.json"} {
		_, p := appsFileProblems(f)
		for _, l := range p {
			fmt.Println(l)
		}
		fmt.Println("--")
	}
}

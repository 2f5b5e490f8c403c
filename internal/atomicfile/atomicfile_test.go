package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplacesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cursor")
	for _, content := range []string{"first\n", "second, longer\n", "3\n"} {
		if err := WriteFile(path, []byte(content), true); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read back %q, %v; want %q", got, err, content)
		}
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir"), []byte("x"), false); err == nil {
		t.Fatal("writing into a missing directory reported no error")
	}
}

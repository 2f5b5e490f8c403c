package tlsconfig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// Loader says where a store's bytes come from and how they are encoded. It mirrors KETE's
// `loader.kind`, `loader.path`, `loader.base64` and `loader.text` keys.
//
// Kind is "<format>-file-<source>": format is pem, der, pkcs12, jks or pkcs7; source is
// path (read the file at Path), base64 (decode Base64) or text (use Text as it is; pem
// only). Only the field the kind names may be set.
type Loader struct {
	Kind   LoaderKind
	Path   string
	Base64 string
	Text   string
}

// LoaderKind is a loader.kind, "<format>-file-<source>"; ParseLoaderKind reads one.
type LoaderKind string

// Loader kinds, spelled as in configuration.
const (
	KindPEMPath      LoaderKind = "pem-file-path"
	KindPEMBase64    LoaderKind = "pem-file-base64"
	KindPEMText      LoaderKind = "pem-file-text"
	KindDERPath      LoaderKind = "der-file-path"
	KindDERBase64    LoaderKind = "der-file-base64"
	KindPKCS12Path   LoaderKind = "pkcs12-file-path"
	KindPKCS12Base64 LoaderKind = "pkcs12-file-base64"
	KindJKSPath      LoaderKind = "jks-file-path"
	KindJKSBase64    LoaderKind = "jks-file-base64"
	KindPKCS7Path    LoaderKind = "pkcs7-file-path"
	KindPKCS7Base64  LoaderKind = "pkcs7-file-base64"
)

// Kinds lists every valid loader kind, for documentation and error messages.
func Kinds() []LoaderKind {
	return []LoaderKind{
		KindPEMPath, KindPEMBase64, KindPEMText,
		KindDERPath, KindDERBase64,
		KindPKCS12Path, KindPKCS12Base64,
		KindJKSPath, KindJKSBase64,
		KindPKCS7Path, KindPKCS7Base64,
	}
}

// KindList is Kinds joined with ", ", as error messages list them.
func KindList() string {
	names := make([]string, 0, len(Kinds()))
	for _, k := range Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// ParseLoaderKind reads a loader.kind in any case and with surrounding space.
func ParseLoaderKind(s string) (LoaderKind, error) {
	k := LoaderKind(strings.ToLower(strings.TrimSpace(s)))
	if k == "" {
		return "", fmt.Errorf("loader.kind is required; valid kinds: %s", KindList())
	}
	if !slices.Contains(Kinds(), k) {
		return "", fmt.Errorf("loader.kind=%q is not a loader kind; valid kinds: %s", s, KindList())
	}
	return k, nil
}

func (k LoaderKind) String() string { return string(k) }

// Format is the kind's store format: pem, der, pkcs12, jks or pkcs7.
func (k LoaderKind) Format() string {
	format, _, _ := strings.Cut(string(k), "-file-")
	return format
}

// Source is the Loader field the kind reads: path, base64 or text.
func (k LoaderKind) Source() string {
	_, source, _ := strings.Cut(string(k), "-file-")
	return source
}

// Store formats, the first part of a loader kind.
const (
	formatPEM    = "pem"
	formatDER    = "der"
	formatPKCS12 = "pkcs12"
	formatJKS    = "jks"
	formatPKCS7  = "pkcs7"
)

// Sources, the last part of a loader kind, named as the Loader field (and config key) they read.
const (
	sourcePath   = "path"
	sourceBase64 = "base64"
	sourceText   = "text"
)

// load returns the store's raw bytes (still in the store's format) and its format.
// Errors name the loader field at fault but never echo its content, which may be secret.
func (l Loader) load() (data []byte, format string, err error) {
	kind, err := ParseLoaderKind(string(l.Kind))
	if err != nil {
		return nil, "", err
	}
	format, source := kind.Format(), kind.Source()
	fields := []struct{ name, value string }{
		{sourcePath, l.Path}, {sourceBase64, l.Base64}, {sourceText, l.Text},
	}
	for _, f := range fields {
		if f.name == source {
			if strings.TrimSpace(f.value) == "" {
				return nil, "", fmt.Errorf("loader.kind=%s needs loader.%s", kind, source)
			}
		} else if f.value != "" {
			return nil, "", fmt.Errorf("loader.%s is set but loader.kind=%s reads loader.%s", f.name, kind, source)
		}
	}
	switch source {
	case sourcePath:
		data, err = os.ReadFile(l.Path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is in our message already
			}
			return nil, "", fmt.Errorf("loader.path=%s: %w", l.Path, err)
		}
		if len(data) == 0 {
			return nil, "", fmt.Errorf("loader.path=%s: file is empty", l.Path)
		}
	case sourceBase64:
		data, err = decodeBase64(l.Base64)
		if err != nil {
			return nil, "", fmt.Errorf("loader.base64: %w", err)
		}
	case sourceText:
		data = []byte(l.Text)
	}
	return data, format, nil
}

// decodeBase64 accepts standard base64 with or without padding, wrapped over lines (as
// `base64` writes it) or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding // unpadded
	}
	data, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %w", err)
	}
	if len(data) == 0 {
		return nil, errors.New("decodes to nothing")
	}
	return data, nil
}

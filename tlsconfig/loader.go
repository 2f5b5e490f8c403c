package tlsconfig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Loader says where a store's bytes come from and how they are encoded. It mirrors KETE's
// `loader.kind`, `loader.path`, `loader.base64` and `loader.text` keys.
//
// Kind is "<format>-file-<source>": format is pem, der, pkcs12, jks or pkcs7; source is
// path (read the file at Path), base64 (decode Base64) or text (use Text as it is; pem
// only). Only the field the kind names may be set.
type Loader struct {
	Kind   string
	Path   string
	Base64 string
	Text   string
}

// Loader kinds, spelled as in configuration.
const (
	KindPEMPath      = "pem-file-path"
	KindPEMBase64    = "pem-file-base64"
	KindPEMText      = "pem-file-text"
	KindDERPath      = "der-file-path"
	KindDERBase64    = "der-file-base64"
	KindPKCS12Path   = "pkcs12-file-path"
	KindPKCS12Base64 = "pkcs12-file-base64"
	KindJKSPath      = "jks-file-path"
	KindJKSBase64    = "jks-file-base64"
	KindPKCS7Path    = "pkcs7-file-path"
	KindPKCS7Base64  = "pkcs7-file-base64"
)

// Kinds lists every valid loader kind, for documentation and error messages.
func Kinds() []string {
	return []string{
		KindPEMPath, KindPEMBase64, KindPEMText,
		KindDERPath, KindDERBase64,
		KindPKCS12Path, KindPKCS12Base64,
		KindJKSPath, KindJKSBase64,
		KindPKCS7Path, KindPKCS7Base64,
	}
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

// parseKind splits a loader kind into its format and source, normalising case and spaces.
func parseKind(kind string) (format, source string, err error) {
	k := strings.ToLower(strings.TrimSpace(kind))
	if k == "" {
		return "", "", fmt.Errorf("loader.kind is required; valid kinds: %s", strings.Join(Kinds(), ", "))
	}
	for _, valid := range Kinds() {
		if k == valid {
			format, source, _ = strings.Cut(k, "-file-")
			return format, source, nil
		}
	}
	return "", "", fmt.Errorf("loader.kind=%q is not a loader kind; valid kinds: %s", kind, strings.Join(Kinds(), ", "))
}

// load returns the store's raw bytes (still in the store's format) and its format.
// Errors name the loader field at fault but never echo its content, which may be secret.
func (l Loader) load() (data []byte, format string, err error) {
	format, source, err := parseKind(l.Kind)
	if err != nil {
		return nil, "", err
	}
	kind := format + "-file-" + source
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

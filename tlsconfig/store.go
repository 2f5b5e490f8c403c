package tlsconfig

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"go.mozilla.org/pkcs7"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/kete-dev/kete/internal/pemkey"
)

// Store is one piece of key or trust material: where it comes from and how to open it.
// It mirrors KETE's `trust-store.*` and `key-store.*` keys.
type Store struct {
	// Name says which store this is in errors, e.g. "trust-store" or the full config key
	// "kete.routes.ws.destination.tls.key-store". Blank means "trust-store" or "key-store"
	// according to the use.
	Name   string
	Loader Loader
	// Password opens PKCS#12 and JKS stores. It is used exactly as given: a wrong password
	// is an error, never a quiet retry with "", "changeit" or "secret" as KETE does.
	Password string
	// KeyPassword decrypts JKS private key entries; blank means Password. PKCS#12 stores
	// have one password, so a KeyPassword that differs from Password is an error there.
	KeyPassword string
}

// ErrWrongPassword is wrapped by every error caused by a store password or key password
// that does not open the store, so that callers can tell it from a corrupt store.
var ErrWrongPassword = errors.New("wrong password")

// Default store names, used in errors when Store.Name is blank.
const (
	trustStoreName = "trust-store"
	keyStoreName   = "key-store"
)

func (s Store) nameOr(def string) string {
	if s.Name != "" {
		return s.Name
	}
	return def
}

// TrustedCertificates returns every certificate the store holds, to be used as trust
// anchors: all CERTIFICATE blocks of a PEM file, the certificates of a DER file or a PKCS#7
// bundle, the trusted entries of a PKCS#12 trust store or all certificates of a PKCS#12 key
// store, and the trusted certificate entries plus each private key entry's certificate chain
// of a JKS store. An error is a *StoreError naming the store.
func (s Store) TrustedCertificates() ([]*x509.Certificate, error) {
	name := s.nameOr(trustStoreName)
	data, format, err := s.Loader.load()
	if err != nil {
		return nil, &StoreError{Store: name, Err: err}
	}
	if err := checkFormat(format, data); err != nil {
		return nil, &StoreError{Store: name, Err: err}
	}
	var certs []*x509.Certificate
	switch format {
	case formatPEM:
		certs, err = pemTrust(data)
	case formatDER:
		certs, err = derTrust(data)
	case formatPKCS12:
		certs, err = pkcs12Trust(data, s.Password)
	case formatJKS:
		certs, err = jksTrust(data, s.Password)
	case formatPKCS7:
		certs, err = pkcs7Trust(data)
	}
	if err == nil && len(certs) == 0 {
		err = fmt.Errorf("%s: no certificates found", format)
	}
	if err != nil {
		return nil, &StoreError{Store: name, Err: err}
	}
	return certs, nil
}

// KeyPairs returns the private keys of the store, each with its certificate chain (leaf
// first), ready for tls.Config.Certificates: the one key of a PEM file with the
// certificates in the same file, the key and chain of a PKCS#12 store, or every private key
// entry of a JKS store. DER and PKCS#7 cannot carry a key together with its certificate, so
// they are refused with an error that says so. An error is a *StoreError naming the store.
func (s Store) KeyPairs() ([]tls.Certificate, error) {
	name := s.nameOr(keyStoreName)
	data, format, err := s.Loader.load()
	if err != nil {
		return nil, &StoreError{Store: name, Err: err}
	}
	if err := checkFormat(format, data); err != nil && format != formatDER && format != formatPKCS7 {
		return nil, &StoreError{Store: name, Err: err}
	}
	var pairs []tls.Certificate
	switch format {
	case formatPEM:
		pairs, err = pemKey(data)
	case formatDER:
		err = errors.New("der: a DER file holds a single certificate or a single key, never both, so it cannot be a key store; use pem (key and chain in one file), pkcs12 or jks")
	case formatPKCS7:
		err = errors.New("pkcs7: a PKCS#7 bundle holds certificates only, no private key, so it cannot be a key store; use pem (key and chain in one file), pkcs12 or jks")
	case formatPKCS12:
		pairs, err = pkcs12Key(data, s.Password, s.KeyPassword)
	case formatJKS:
		pairs, err = jksKey(data, s.Password, s.KeyPassword)
	}
	if err != nil {
		return nil, &StoreError{Store: name, Err: err}
	}
	return pairs, nil
}

// looksLikePEM reports whether data is PEM text rather than binary DER.
func looksLikePEM(data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN "))
}

// checkFormat catches the common mix-ups between a loader kind and the bytes it reads
// (a JKS file under a pkcs12 kind, PEM text under a binary kind) with an error that names
// the kind to use, before a parser fails with an ASN.1 message.
func checkFormat(format string, data []byte) error {
	isJKS := bytes.HasPrefix(data, []byte(jksMagic))
	switch format {
	case formatDER, formatPKCS12:
		if looksLikePEM(data) {
			return fmt.Errorf("%s: data is PEM text, not binary %s; use a pem-file-* kind", format, strings.ToUpper(format))
		}
		fallthrough
	case formatPKCS7:
		if isJKS {
			return fmt.Errorf("%s: this is a JKS store; use a jks-file-* kind", format)
		}
	case formatPEM:
		if isJKS {
			return errors.New("pem: this is a JKS store; use a jks-file-* kind")
		}
	}
	return nil
}

// pemBlocks yields the PEM blocks of data in order, each with its number from 1.
func pemBlocks(data []byte) iter.Seq2[int, *pem.Block] {
	return func(yield func(int, *pem.Block) bool) {
		for n, rest := 1, data; ; n++ {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil || !yield(n, b) {
				return
			}
		}
	}
}

func pemTrust(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	blocks := 0
	for n, b := range pemBlocks(data) {
		blocks = n
		switch {
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("pem: certificate %d: %w", len(certs)+1, err)
			}
			certs = append(certs, c)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"), b.Type == "EC PARAMETERS":
			// A key next to its certificate: a trust store only needs the certificate.
		default:
			return nil, fmt.Errorf("pem: block %d is %q, not a CERTIFICATE", blocks, b.Type)
		}
	}
	if blocks == 0 {
		return nil, errors.New("pem: no PEM block found (for binary DER use a der-file-* kind)")
	}
	return certs, nil
}

func derTrust(data []byte) ([]*x509.Certificate, error) {
	certs, err := x509.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("der: %w", err)
	}
	return certs, nil
}

func pkcs7Trust(data []byte) ([]*x509.Certificate, error) {
	if looksLikePEM(data) { // .p7b files are often PEM-armoured: "-----BEGIN PKCS7-----"
		b, _ := pem.Decode(data)
		if b == nil || (b.Type != "PKCS7" && b.Type != "CMS") {
			return nil, errors.New("pkcs7: PEM data without a PKCS7 block")
		}
		data = b.Bytes
	}
	p7, err := pkcs7.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("pkcs7: %w", err)
	}
	return p7.Certificates, nil
}

// wrongPKCS12Password reports whether err from go-pkcs12 means the password is wrong.
func wrongPKCS12Password(err error) bool {
	return errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption)
}

func pkcs12Trust(data []byte, password string) ([]*x509.Certificate, error) {
	certs, errTrust := pkcs12.DecodeTrustStore(data, password)
	if errTrust == nil {
		return certs, nil
	}
	if wrongPKCS12Password(errTrust) {
		return nil, fmt.Errorf("pkcs12: %w (%w)", ErrWrongPassword, errTrust)
	}
	// Not a Java-style trust store: take the certificates of a key store instead.
	_, leaf, chain, errKey := pkcs12.DecodeChain(data, password)
	if errKey == nil {
		return append([]*x509.Certificate{leaf}, chain...), nil
	}
	if wrongPKCS12Password(errKey) {
		return nil, fmt.Errorf("pkcs12: %w (%w)", ErrWrongPassword, errKey)
	}
	if errTrust.Error() == errKey.Error() {
		return nil, pkcs12Error(errKey)
	}
	hint := ""
	if strings.Contains(errTrust.Error(), "not marked as trusted") && strings.Contains(errKey.Error(), "private key missing") {
		// What `openssl pkcs12 -export -nokeys` makes; Java ignores such certificates too.
		hint = "; certificates without a key must carry Java's trusted-certificate mark (keytool -importcert makes them), or use a PEM or PKCS#7 bundle"
	}
	return nil, fmt.Errorf("pkcs12: neither a trust store (%s) nor a key store (%s)%s",
		strings.TrimPrefix(errTrust.Error(), "pkcs12: "), strings.TrimPrefix(errKey.Error(), "pkcs12: "), hint)
}

// pkcs12Error prefixes err with "pkcs12: " unless go-pkcs12 already did.
func pkcs12Error(err error) error {
	if strings.HasPrefix(err.Error(), "pkcs12: ") {
		return err
	}
	return fmt.Errorf("pkcs12: %w", err)
}

func pkcs12Key(data []byte, password, keyPassword string) ([]tls.Certificate, error) {
	if keyPassword != "" && keyPassword != password {
		return nil, errors.New("pkcs12: key-password differs from password, but a PKCS#12 store is read with one password; leave key-password blank")
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if wrongPKCS12Password(err) {
			return nil, fmt.Errorf("pkcs12: %w (%w)", ErrWrongPassword, err)
		}
		if strings.HasSuffix(err.Error(), "private key missing") {
			return nil, fmt.Errorf("%w (a store of trusted certificates only is a trust store)", pkcs12Error(err))
		}
		return nil, pkcs12Error(err)
	}
	pair, err := keyPair(key, append([]*x509.Certificate{leaf}, chain...))
	if err != nil {
		return nil, fmt.Errorf("pkcs12: %w", err)
	}
	return []tls.Certificate{pair}, nil
}

// jksMagic and jceksMagic open JKS and JCEKS files; PKCS#12 (DER) opens with a SEQUENCE tag.
const (
	jksMagic   = "\xfe\xed\xfe\xed"
	jceksMagic = "\xce\xce\xce\xce"
)

func loadJKS(data []byte, password string) (keystore.KeyStore, error) {
	switch {
	case bytes.HasPrefix(data, []byte(jksMagic)):
	case bytes.HasPrefix(data, []byte(jceksMagic)):
		return keystore.KeyStore{}, errors.New("jks: this is a JCEKS store, which is not supported; convert it with keytool -importkeystore -deststoretype pkcs12")
	case len(data) > 0 && data[0] == 0x30:
		return keystore.KeyStore{}, errors.New("jks: this looks like a PKCS#12 store (keytool's default since Java 9); use a pkcs12-file-* kind")
	default:
		return keystore.KeyStore{}, errors.New("jks: not a JKS store")
	}
	ks := keystore.New(keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		// keystore-go has no sentinel: a failed integrity check means the password is
		// wrong (or the file was altered after it was written).
		if err.Error() == "got invalid digest" {
			hint := ""
			if password == "" {
				hint = "; the password is blank"
			}
			return keystore.KeyStore{}, fmt.Errorf("jks: %w (store integrity check failed%s)", ErrWrongPassword, hint)
		}
		return keystore.KeyStore{}, fmt.Errorf("jks: %w", err)
	}
	return ks, nil
}

func jksCerts(chain []keystore.Certificate, alias string) ([]*x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, len(chain))
	for i, c := range chain {
		if c.Type != "X509" && c.Type != "X.509" {
			return nil, fmt.Errorf("jks: alias %q: certificate %d has type %q, not X.509", alias, i+1, c.Type)
		}
		cert, err := x509.ParseCertificate(c.Content)
		if err != nil {
			return nil, fmt.Errorf("jks: alias %q: certificate %d: %w", alias, i+1, err)
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

func jksTrust(data []byte, password string) ([]*x509.Certificate, error) {
	ks, err := loadJKS(data, password)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, alias := range ks.Aliases() {
		var chain []keystore.Certificate
		if ks.IsTrustedCertificateEntry(alias) {
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return nil, fmt.Errorf("jks: alias %q: %w", alias, err)
			}
			chain = []keystore.Certificate{e.Certificate}
		} else if ks.IsPrivateKeyEntry(alias) {
			chain, err = ks.GetPrivateKeyEntryCertificateChain(alias)
			if err != nil {
				return nil, fmt.Errorf("jks: alias %q: %w", alias, err)
			}
		}
		cs, err := jksCerts(chain, alias)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cs...)
	}
	return certs, nil
}

func jksKey(data []byte, password, keyPassword string) ([]tls.Certificate, error) {
	ks, err := loadJKS(data, password)
	if err != nil {
		return nil, err
	}
	field := "key-password"
	if keyPassword == "" {
		keyPassword, field = password, "key-password (blank, so password)"
	}
	var pairs []tls.Certificate
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(keyPassword))
		if err != nil {
			if strings.HasSuffix(err.Error(), "got invalid digest") {
				return nil, fmt.Errorf("jks: alias %q: %s: %w", alias, field, ErrWrongPassword)
			}
			return nil, fmt.Errorf("jks: alias %q: %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("jks: alias %q: private key: %w", alias, err)
		}
		certs, err := jksCerts(e.CertificateChain, alias)
		if err != nil {
			return nil, err
		}
		pair, err := keyPair(key, certs)
		if err != nil {
			return nil, fmt.Errorf("jks: alias %q: %w", alias, err)
		}
		pairs = append(pairs, pair)
	}
	if len(pairs) == 0 {
		return nil, errors.New("jks: no private key entry (a store of trusted certificates only is a trust store)")
	}
	return pairs, nil
}

func pemKey(data []byte) ([]tls.Certificate, error) {
	var (
		certs []*x509.Certificate
		keys  []crypto.PrivateKey
	)
	blocks := 0
	for n, b := range pemBlocks(data) {
		blocks = n
		if b.Headers["Proc-Type"] == "4,ENCRYPTED" {
			return nil, fmt.Errorf("pem: block %d (%s) is encrypted; PEM keys must be unencrypted (or use pkcs12 or jks with a password)", blocks, b.Type)
		}
		key, ok, err := pemkey.Parse(b)
		switch {
		case ok:
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("pem: block %d: certificate: %w", blocks, err)
			}
			certs = append(certs, c)
			continue
		case b.Type == "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("pem: block %d is an encrypted PKCS#8 key; PEM keys must be unencrypted (openssl pkcs8 -nocrypt), or use pkcs12 or jks with a password", blocks)
		case b.Type == "EC PARAMETERS":
			continue
		default:
			return nil, fmt.Errorf("pem: block %d is %q, neither a CERTIFICATE nor a private key", blocks, b.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("pem: block %d: %s: %w", blocks, strings.ToLower(b.Type), err)
		}
		keys = append(keys, key)
	}
	switch {
	case blocks == 0:
		return nil, errors.New("pem: no PEM block found")
	case len(keys) == 0:
		return nil, errors.New("pem: no private key; a PEM key store holds an unencrypted PKCS#8, PKCS#1 or EC key and its certificate chain in one file")
	case len(keys) > 1:
		return nil, fmt.Errorf("pem: %d private keys; a PEM key store holds exactly one", len(keys))
	}
	pair, err := keyPair(keys[0], certs)
	if err != nil {
		return nil, fmt.Errorf("pem: %w", err)
	}
	return []tls.Certificate{pair}, nil
}

// keyPair puts the certificate whose public key belongs to key first, followed by the
// others in their order, so that the chain a peer receives starts with the leaf.
func keyPair(key crypto.PrivateKey, certs []*x509.Certificate) (tls.Certificate, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("private key of type %T cannot sign", key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return tls.Certificate{}, fmt.Errorf("private key of type %T is not supported", key)
	}
	leaf := -1
	for i, c := range certs {
		if pub.Equal(c.PublicKey) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		if len(certs) == 0 {
			return tls.Certificate{}, errors.New("private key without a certificate; put its certificate chain in the same store")
		}
		return tls.Certificate{}, fmt.Errorf("none of the %d certificates matches the private key", len(certs))
	}
	pair := tls.Certificate{PrivateKey: key, Leaf: certs[leaf]}
	pair.Certificate = append(pair.Certificate, certs[leaf].Raw)
	for i, c := range certs {
		if i != leaf {
			pair.Certificate = append(pair.Certificate, c.Raw)
		}
	}
	return pair, nil
}

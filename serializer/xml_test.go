package serializer_test

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/kete-dev/kete"
)

func TestXML(t *testing.T) {
	s := mustNew(t, "xml", "")
	type xmlEvent struct {
		XMLName   xml.Name
		ID        string `xml:"id"`
		Time      int64  `xml:"time"`
		Type      string `xml:"type"`
		RealmID   string `xml:"realmId"`
		RealmName string `xml:"realmName"`
		ClientID  string `xml:"clientId"`
		UserID    string `xml:"userId"`
		SessionID string `xml:"sessionId"`
		IPAddress string `xml:"ipAddress"`
		Error     string `xml:"error"`
		Details   struct {
			Entries []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"details"`
		AuthDetails *struct {
			RealmID   string `xml:"realmId"`
			RealmName string `xml:"realmName"`
			ClientID  string `xml:"clientId"`
		} `xml:"authDetails"`
		OperationType        string `xml:"operationType"`
		ResourceType         string `xml:"resourceType"`
		ResourceTypeAsString string `xml:"resourceTypeAsString"`
		ResourcePath         string `xml:"resourcePath"`
		Representation       string `xml:"representation"`
	}
	decode := func(t *testing.T, e *kete.Event) xmlEvent {
		t.Helper()
		out := serialize(t, s, e)
		if bytes.HasPrefix(out, []byte("<?xml")) {
			t.Errorf("XML declaration, which Jackson's XmlMapper does not write: %s", out)
		}
		var got xmlEvent
		if err := xml.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid XML %s: %v", out, err)
		}
		return got
	}

	u := decode(t, userEvent())
	if u.XMLName.Local != "Event" || u.Time != 1700000000123 || u.Type != "LOGIN_ERROR" ||
		u.RealmName != "Acme Corp" || u.SessionID != "s-1" || u.Error != "invalid_user_credentials" {
		t.Errorf("user event: %+v", u)
	}
	if d := u.Details.Entries; len(d) != 3 || d[0].XMLName.Local != "auth_method" || d[2].XMLName.Local != "username" || d[2].Value != "alice" {
		t.Errorf("details not child elements in key order: %+v", d)
	}
	a := decode(t, adminEvent())
	if a.XMLName.Local != "AdminEvent" || a.ResourceTypeAsString != "USER" ||
		a.Representation != `{"username":"bob","enabled":true}` || a.AuthDetails == nil || a.AuthDetails.ClientID != "admin-cli" {
		t.Errorf("admin event: %+v", a)
	}

	// XML 1.0 cannot carry \x01, \x1f, \b or \f: they come back as U+FFFD, like invalid bytes.
	xmlFixed := strings.NewReplacer("\x01", "\uFFFD", "\x1f", "\uFFFD", "\b", "\uFFFD", "\f", "\uFFFD").Replace(fixed)
	tr := decode(t, trickyEvent(kete.KindEvent))
	for name, got := range map[string]string{"id": tr.ID, "realmName": tr.RealmName, "userId": tr.UserID} {
		if got != xmlFixed {
			t.Errorf("%s = %q, want %q", name, got, xmlFixed)
		}
	}
	// A detail key that is no XML name becomes one, "_" for each character that may not
	// stand there; its value is kept.
	if d := tr.Details.Entries; len(d) != 2 || d[0].XMLName.Local != "plain" || d[1].Value != xmlFixed ||
		strings.ContainsAny(d[1].XMLName.Local, " \"<>&") {
		t.Errorf("tricky details: %+v", d)
	}
}

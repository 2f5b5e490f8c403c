package template

// field is what a variable reads from the event.
type field uint8

const (
	fieldRealm field = iota
	fieldEventType
	fieldKind
	fieldResourceType
	fieldOperationType
	fieldResult
	numFields
)

func (f field) String() string {
	switch f {
	case fieldRealm:
		return "realm"
	case fieldEventType:
		return "eventType"
	case fieldKind:
		return "kind"
	case fieldResourceType:
		return "resourceType"
	case fieldOperationType:
		return "operationType"
	case fieldResult:
		return "result"
	}
	return ""
}

// textCase is how a variable's value is written.
type textCase uint8

const (
	caseLower textCase = iota
	caseUpper
	caseKebab
	casePascal
	caseCamel
	numCases
)

func (c textCase) String() string {
	switch c {
	case caseLower:
		return "LowerCase"
	case caseUpper:
		return "UpperCase"
	case caseKebab:
		return "KebabCase"
	case casePascal:
		return "PascalCase"
	case caseCamel:
		return "CamelCase"
	}
	return ""
}

// lookup resolves a variable name such as realmLowerCase.
func lookup(name string) (field, textCase, bool) {
	for f := range numFields {
		for c := range numCases {
			if name == f.String()+c.String() {
				return f, c, true
			}
		}
	}
	return 0, 0, false
}

// Variables lists every variable name a template knows, without the ${}, for
// documentation and error messages. The caller owns the returned slice.
func Variables() []string {
	names := make([]string, 0, int(numFields)*int(numCases))
	for f := range numFields {
		for c := range numCases {
			names = append(names, f.String()+c.String())
		}
	}
	return names
}

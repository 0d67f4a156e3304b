package detect

import (
	"strings"
	"testing"
)

func TestConditionParsePrecedence(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a", "a"},
		{"a and b", "(a and b)"},
		{"a or b", "(a or b)"},
		{"a or b and c", "(a or (b and c))"},
		{"a and b or c", "((a and b) or c)"},
		{"not a and b", "((not a) and b)"},
		{"not a or b", "((not a) or b)"},
		{"a and not b or not c and d", "((a and (not b)) or ((not c) and d))"},
		{"not (a or b)", "(not (a or b))"},
		{"not not a", "(not (not a))"},
		{"(a or b) and c", "((a or b) and c)"},
		{"a and (b or (c and not d))", "(a and (b or (c and (not d))))"},
		{"1 of sel* and not 1 of filter_*", "((1 of sel*) and (not (1 of filter_*)))"},
		{"all of them", "(all of them)"},
		{"1 of them or x", "((1 of them) or x)"},
		{"not 1 of filter*", "(not (1 of filter*))"},
		{"A AND NOT B OR C", "((A and (not B)) or C)"},
		{"sel  and\n(\tfilter )", "(sel and filter)"},
		{"a and b and c or d or e", "((a and b and c) or d or e)"},
	} {
		got, err := parseCondition(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got.String() != c.want {
			t.Errorf("%q parsed as %s, want %s", c.in, got, c.want)
		}
	}
}

func TestConditionSyntaxErrors(t *testing.T) {
	for _, c := range []struct{ in, reason string }{
		{"", "empty condition"},
		{"   ", "empty condition"},
		{"a and", "condition ends"},
		{"and a", `unexpected "and"`},
		{"a b", `unexpected "b"`},
		{"(a or b", "missing ')'"},
		{"a or b)", `unexpected ")"`},
		{"()", "unexpected ')'"},
		{"not", "condition ends"},
		{"2 of sel*", "only '1 of' and 'all of'"},
		{"1 of", "needs 'them' or an identifier pattern"},
		{"1 of (a)", "needs 'them' or an identifier pattern"},
		{"selection | count() > 5", "aggregation"},
		{strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200), "nested deeper"},
		{strings.Repeat("not ", 200) + "a", "nested deeper"},
	} {
		_, err := parseCondition(c.in)
		if err == nil {
			t.Errorf("%q: no error, want one about %q", c.in, c.reason)
			continue
		}
		if !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%q: error %q, want it to mention %q", c.in, err, c.reason)
		}
	}
}

// The detection shared by the condition-form tests: three selections and
// two filters over real events.
const conditionDetection = `
sel_iam:
    eventSource: iam.amazonaws.com
sel_key:
    eventName: CreateAccessKey
sel_user:
    userIdentity.type: IAMUser
filter_admin:
    userIdentity.userName: admin
filter_cli:
    userAgent|startswith: 'aws-cli/'
_helper:
    eventName: ConsoleLogin
`

func conditionRule(cond string) string { return conditionDetection + "condition: " + cond }

func TestConditionAnd(t *testing.T) {
	checkMatches(t, conditionRule("sel_iam and sel_key"), []matchCase{
		{"both", evCreateAccessKey, true},
		{"only the first", evUpdateLoginProfile, false},
		{"neither", evConsoleLoginNoMFA, false},
	})
}

func TestConditionOr(t *testing.T) {
	checkMatches(t, conditionRule("sel_key or _helper"), []matchCase{
		{"first", evCreateAccessKey, true},
		{"second", evConsoleLoginNoMFA, true},
		{"neither", evDeleteBucket, false},
	})
}

func TestConditionNot(t *testing.T) {
	checkMatches(t, conditionRule("not sel_user"), []matchCase{
		{"selection false", evSecurityGroupIngress, true},
		{"selection true", evCreateAccessKey, false},
	})
}

func TestConditionPrecedence(t *testing.T) {
	// not > and > or: "sel_key or sel_user and not filter_admin" is
	// "sel_key or (sel_user and (not filter_admin))".
	checkMatches(t, conditionRule("sel_key or sel_user and not filter_admin"), []matchCase{
		{"left of or alone (admin's CreateAccessKey)", evCreateAccessKey, true},
		{"right of or (bob is an IAM user, not admin)", evConsoleLoginNoMFA, true},
		{"right of or fails on the not (admin, not CreateAccessKey)", evUpdateLoginProfile, false},
	})
	// Parentheses override: "(sel_key or sel_user) and not filter_admin".
	checkMatches(t, conditionRule("(sel_key or sel_user) and not filter_admin"), []matchCase{
		{"admin is filtered now", evCreateAccessKey, false},
		{"bob still matches", evConsoleLoginNoMFA, true},
	})
	checkMatches(t, conditionRule("not (sel_user and filter_admin)"), []matchCase{
		{"not over a parenthesised and", evCreateAccessKey, false},
		{"not over a parenthesised and, inner false", evConsoleLoginNoMFA, true},
	})
}

func TestConditionOneOfPattern(t *testing.T) {
	checkMatches(t, conditionRule("1 of sel_*"), []matchCase{
		{"one of three", evConsoleLoginNoMFA, true}, // sel_user only
		{"none", evSecurityGroupIngress, false},
	})
	checkMatches(t, conditionRule("1 of *_key"), []matchCase{
		{"pattern with a leading star", evCreateAccessKey, true},
		{"pattern with a leading star, none", evConsoleLoginNoMFA, false},
	})
}

func TestConditionAllOfPattern(t *testing.T) {
	checkMatches(t, conditionRule("all of sel_*"), []matchCase{
		{"all three", evCreateAccessKey, true},
		{"two of three", evUpdateLoginProfile, false},
	})
}

func TestConditionOneOfThem(t *testing.T) {
	// _helper is excluded from "them": a ConsoleLogin by an assumed role
	// would match only it.
	login := with(t, evConsoleLoginNoMFA, map[string]any{"userIdentity.type": "AssumedRole", "userAgent": "Mozilla/5.0"})
	checkMatches(t, conditionRule("1 of them"), []matchCase{
		{"identifiers starting with _ are not part of them", login, false},
		{"any other", evSecurityGroupIngress, true}, // filter_cli
		{"none", evDescribeInstancesService, false},
	})
}

func TestConditionAllOfThem(t *testing.T) {
	checkMatches(t, conditionRule("all of them"), []matchCase{
		// CreateAccessKey by admin with the CLI: all five, _helper excluded.
		{"all five (without _helper)", evCreateAccessKey, true},
		{"four of five", with(t, evCreateAccessKey, map[string]any{"userAgent": "Boto3/1.34"}), false},
	})
}

func TestConditionSelectionAndNotOneOfFilters(t *testing.T) {
	checkMatches(t, conditionRule("sel_iam and not 1 of filter_*"), []matchCase{
		{"filtered by both", evCreateAccessKey, false},
		{"filtered by one", with(t, evCreateAccessKey, map[string]any{"userIdentity.userName": "ops"}), false},
		{"filtered by none", with(t, evCreateAccessKey, map[string]any{"userIdentity.userName": "ops", "userAgent": "Boto3/1.34"}), true},
		{"not selected", evConsoleLoginNoMFA, false},
	})
}

func TestConditionList(t *testing.T) {
	checkMatches(t, conditionDetection+`condition:
    - sel_key and filter_admin
    - _helper`, []matchCase{
		{"first condition", evCreateAccessKey, true},
		{"second condition", evConsoleLoginNoMFA, true},
		{"neither", evDeleteBucket, false},
	})
}

func TestConditionBindErrors(t *testing.T) {
	for _, c := range []struct{ cond, reason string }{
		{"sel_iam and missing_selection", `"missing_selection", which the detection does not define`},
		{"1 of nothing_*", `"1 of nothing_*" matches no search identifier`},
		{"all of nope", `"all of nope" matches no search identifier`},
	} {
		err := compileError(t, conditionRule(c.cond))
		if !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%q: error %q, want it to mention %q", c.cond, err, c.reason)
		}
		if !strings.HasPrefix(err.Error(), "bad_rule.yml: Test Rule: ") {
			t.Errorf("%q: error %q does not start with file and rule", c.cond, err)
		}
	}
}

func TestMatchStar(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"sel*", "selection", true},
		{"sel*", "sel", true},
		{"sel*", "xsel", false},
		{"*sel", "filter_sel", true},
		{"*_main_*", "filter_main_generic", true},
		{"*_main_*", "filter_optional", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := matchStar(c.pattern, c.name); got != c.want {
			t.Errorf("matchStar(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

package deploy

// This file reads CloudFormation templates the way CloudFormation does, enough
// to check them and to deploy them on paper: decodeTemplate turns YAML (with
// the short-form tags !Ref, !Sub, !GetAtt, !If...) into the JSON-shaped value
// CloudFormation works on; checkTemplate finds dangling references, unknown
// resource types and properties, unused parameters and conditions; deploy
// resolves every intrinsic function for a set of parameter values, so the
// tests can put the resulting IAM policies through internal/policy.

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// shortForms maps each short-form tag to the function it stands for.
var shortForms = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub",
	"!Join": "Fn::Join", "!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not",
	"!And": "Fn::And", "!Or": "Fn::Or", "!Select": "Fn::Select", "!Split": "Fn::Split",
	"!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64", "!GetAZs": "Fn::GetAZs",
	"!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr", "!Length": "Fn::Length",
	"!ToJsonString": "Fn::ToJsonString",
}

// decodeTemplate reads a YAML template into maps, lists and scalars, with
// each short-form tag turned into its long form ({"Fn::Sub": ...}). Errors
// name the file, line and column.
func decodeTemplate(name string, data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("%s: empty template", name)
	}
	v, err := fromNode(name, doc.Content[0], 0)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s:%d:%d: a template is a mapping", name, doc.Content[0].Line, doc.Content[0].Column)
	}
	return m, nil
}

// maxDepth bounds nesting: CloudFormation templates are shallow, and a
// hostile document must not exhaust the stack.
const maxDepth = 64

func fromNode(name string, n *yaml.Node, depth int) (any, error) {
	at := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d:%d: %s", name, n.Line, n.Column, fmt.Sprintf(format, args...))
	}
	if depth > maxDepth {
		return nil, at("nested more than %d levels", maxDepth)
	}
	if fn, ok := shortForms[n.Tag]; ok {
		var arg any
		if n.Kind == yaml.ScalarNode {
			arg = n.Value
			if fn == "Fn::GetAtt" {
				res, attr, ok := strings.Cut(n.Value, ".")
				if !ok {
					return nil, at("!GetAtt %q is not Resource.Attribute", n.Value)
				}
				arg = []any{res, attr}
			}
		} else {
			plain := *n
			plain.Tag = ""
			v, err := fromNode(name, &plain, depth+1)
			if err != nil {
				return nil, err
			}
			arg = v
		}
		return map[string]any{fn: arg}, nil
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, at("unknown tag %s", n.Tag)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || (k.Tag != "" && k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!bool") {
				return nil, fmt.Errorf("%s:%d:%d: a key must be a plain string", name, k.Line, k.Column)
			}
			if k.Value == "<<" {
				return nil, fmt.Errorf("%s:%d:%d: merge keys are not CloudFormation", name, k.Line, k.Column)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("%s:%d:%d: duplicate key %q", name, k.Line, k.Column, k.Value)
			}
			v, err := fromNode(name, vn, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromNode(name, c, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!binary", "!!timestamp":
			// Dates stay text, as CloudFormation reads them.
			return n.Value, nil
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, at("%v", err)
			}
			return b, nil
		case "!!int", "!!float":
			// Kept as text: CloudFormation passes numbers on as written.
			return yamlNumber(n.Value), nil
		}
		return nil, at("unsupported scalar tag %s", n.Tag)
	case yaml.AliasNode:
		return nil, at("aliases are not CloudFormation")
	}
	return nil, at("unexpected YAML node")
}

// yamlNumber is a number as written in the template.
type yamlNumber string

// MarshalJSON writes the number unquoted when it is one JSON accepts.
func (n yamlNumber) MarshalJSON() ([]byte, error) {
	if _, err := strconv.ParseFloat(string(n), 64); err != nil || strings.ContainsAny(string(n), "xXoO_") {
		return []byte(strconv.Quote(string(n))), nil
	}
	return []byte(n), nil
}

// resourceType is what the checks know of one resource type: the properties
// a template may set, those it must, and the attributes Fn::GetAtt reads.
// The lists follow the CloudFormation resource reference; TestTypesAgreeWithSchemas
// compares them with cfn-lint's copy of the registry schemas.
type resourceType struct {
	required   []string
	properties []string
	attributes []string
}

// resourceTypes are the types these templates use.
var resourceTypes = map[string]resourceType{
	"AWS::SQS::Queue": {
		properties: []string{"ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue", "FifoThroughputLimit", "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize", "MessageRetentionPeriod", "QueueName", "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy", "SqsManagedSseEnabled", "Tags", "VisibilityTimeout"},
		attributes: []string{"Arn", "QueueName", "QueueUrl"},
	},
	"AWS::SQS::QueuePolicy": {
		required:   []string{"PolicyDocument", "Queues"},
		properties: []string{"PolicyDocument", "Queues"},
		attributes: []string{"Id"},
	},
	"AWS::Events::Rule": {
		properties: []string{"Description", "EventBusName", "EventPattern", "Name", "RoleArn", "ScheduleExpression", "State", "Tags", "Targets"},
		attributes: []string{"Arn"},
	},
	"AWS::IAM::Role": {
		required:   []string{"AssumeRolePolicyDocument"},
		properties: []string{"AssumeRolePolicyDocument", "Description", "ManagedPolicyArns", "MaxSessionDuration", "Path", "PermissionsBoundary", "Policies", "RoleName", "Tags"},
		attributes: []string{"Arn", "RoleId"},
	},
	"AWS::IAM::InstanceProfile": {
		required:   []string{"Roles"},
		properties: []string{"InstanceProfileName", "Path", "Roles"},
		attributes: []string{"Arn"},
	},
	"AWS::Lambda::Function": {
		required:   []string{"Code", "Role"},
		properties: []string{"Architectures", "Code", "CodeSigningConfigArn", "DeadLetterConfig", "Description", "Environment", "EphemeralStorage", "FileSystemConfigs", "FunctionName", "Handler", "ImageConfig", "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "PackageType", "RecursiveLoop", "ReservedConcurrentExecutions", "Role", "Runtime", "RuntimeManagementConfig", "SnapStart", "Tags", "Timeout", "TracingConfig", "VpcConfig"},
		attributes: []string{"Arn"},
	},
	"AWS::Lambda::EventSourceMapping": {
		required:   []string{"FunctionName"},
		properties: []string{"BatchSize", "BisectBatchOnFunctionError", "DestinationConfig", "Enabled", "EventSourceArn", "FilterCriteria", "FunctionName", "FunctionResponseTypes", "KmsKeyArn", "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds", "MaximumRetryAttempts", "MetricsConfig", "ParallelizationFactor", "ScalingConfig", "StartingPosition", "Tags"},
		attributes: []string{"Id", "EventSourceMappingArn"},
	},
	"AWS::Logs::LogGroup": {
		properties: []string{"DataProtectionPolicy", "KmsKeyId", "LogGroupClass", "LogGroupName", "RetentionInDays", "Tags"},
		attributes: []string{"Arn"},
	},
}

// pseudoParameters are the names Ref takes besides parameters and resources.
var pseudoParameters = []string{"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

var (
	topLevelKeys      = []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings", "Conditions", "Transform", "Resources", "Outputs", "Rules"}
	resourceKeys      = []string{"Type", "Properties", "Condition", "DependsOn", "DeletionPolicy", "UpdateReplacePolicy", "Metadata", "CreationPolicy", "UpdatePolicy"}
	parameterKeys     = []string{"Type", "Default", "Description", "AllowedValues", "AllowedPattern", "ConstraintDescription", "MinValue", "MaxValue", "MinLength", "MaxLength", "NoEcho"}
	parameterTypes    = []string{"String", "Number", "CommaDelimitedList", "List<Number>"}
	outputKeys        = []string{"Description", "Value", "Export", "Condition"}
	conditionFuncs    = []string{"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"}
	subVariable       = regexp.MustCompile(`\$\{([^}]*)\}`)
	errNotIntrinsic   = errors.New("not an intrinsic function")
	intrinsicFuncKeys = func() map[string]bool {
		m := map[string]bool{}
		for _, fn := range shortForms {
			m[fn] = true
		}
		return m
	}()
)

// template is a decoded template with its sections.
type template struct {
	name       string
	raw        map[string]any
	parameters map[string]map[string]any
	conditions map[string]any
	resources  map[string]map[string]any
	outputs    map[string]map[string]any
}

// newTemplate decodes a template and splits it into sections, checking that
// each is shaped as CloudFormation requires.
func newTemplate(name string, data []byte) (*template, error) {
	raw, err := decodeTemplate(name, data)
	if err != nil {
		return nil, err
	}
	t := &template{name: name, raw: raw}
	for k := range raw {
		if !slices.Contains(topLevelKeys, k) {
			return nil, fmt.Errorf("%s: unknown top-level section %q", name, k)
		}
	}
	section := func(key string) (map[string]map[string]any, error) {
		out := map[string]map[string]any{}
		v, ok := raw[key]
		if !ok {
			return out, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a mapping", name, key)
		}
		for k, e := range m {
			em, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: %s.%s is not a mapping", name, key, k)
			}
			out[k] = em
		}
		return out, nil
	}
	if t.parameters, err = section("Parameters"); err != nil {
		return nil, err
	}
	if t.resources, err = section("Resources"); err != nil {
		return nil, err
	}
	if t.outputs, err = section("Outputs"); err != nil {
		return nil, err
	}
	t.conditions = map[string]any{}
	if c, ok := raw["Conditions"]; ok {
		m, ok := c.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: Conditions is not a mapping", name)
		}
		t.conditions = m
	}
	if len(t.resources) == 0 {
		return nil, fmt.Errorf("%s: no Resources", name)
	}
	return t, nil
}

// check reports every problem CloudFormation would refuse the template for,
// or that would be a mistake in it: unknown sections, keys, types and
// properties; missing required properties; Ref, Fn::GetAtt, Fn::Sub, Fn::If
// and Condition naming nothing; parameters and conditions never used;
// defaults outside their own constraints. Each problem names where it is.
func (t *template) check() []error {
	var errs []error
	add := func(where, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", t.name, where, fmt.Sprintf(format, args...)))
	}
	if v, ok := t.raw["AWSTemplateFormatVersion"]; ok && v != "2010-09-09" {
		add("AWSTemplateFormatVersion", "%v is not 2010-09-09", v)
	}
	for _, n := range sortedKeys(t.parameters) {
		p := t.parameters[n]
		where := "Parameters." + n
		for k := range p {
			if !slices.Contains(parameterKeys, k) {
				add(where, "unknown key %q", k)
			}
		}
		typ, _ := p["Type"].(string)
		if !slices.Contains(parameterTypes, typ) && !strings.HasPrefix(typ, "AWS::") && !strings.HasPrefix(typ, "List<AWS::") {
			add(where, "unknown type %q", p["Type"])
		}
		if d, ok := p["Default"]; ok {
			if err := t.admits(n, scalarText(d)); err != nil {
				add(where, "the default: %v", err)
			}
		}
	}
	for _, n := range sortedKeys(t.resources) {
		r := t.resources[n]
		where := "Resources." + n
		for k := range r {
			if !slices.Contains(resourceKeys, k) {
				add(where, "unknown key %q", k)
			}
		}
		typ, _ := r["Type"].(string)
		rt, known := resourceTypes[typ]
		if !known {
			add(where, "unknown resource type %q", r["Type"])
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		if r["Properties"] != nil && props == nil {
			add(where, "Properties is not a mapping")
		}
		for _, req := range rt.required {
			if _, ok := props[req]; !ok {
				add(where, "%s needs the property %s", typ, req)
			}
		}
		for _, k := range sortedKeys(props) {
			if !slices.Contains(rt.properties, k) {
				add(where+".Properties", "%s has no property %q", typ, k)
			}
		}
		if typ == "AWS::Events::Rule" && props["EventPattern"] == nil && props["ScheduleExpression"] == nil {
			add(where, "a rule needs an EventPattern or a ScheduleExpression")
		}
		if c, ok := r["Condition"]; ok {
			if s, _ := c.(string); t.conditions[s] == nil {
				add(where+".Condition", "no condition %v", c)
			}
		}
		if d, ok := r["DependsOn"]; ok {
			for _, dep := range asList(d) {
				if s, _ := dep.(string); t.resources[s] == nil {
					add(where+".DependsOn", "no resource %v", dep)
				}
			}
		}
	}
	for _, n := range sortedKeys(t.outputs) {
		o := t.outputs[n]
		where := "Outputs." + n
		for k := range o {
			if !slices.Contains(outputKeys, k) {
				add(where, "unknown key %q", k)
			}
		}
		if _, ok := o["Value"]; !ok {
			add(where, "no Value")
		}
		if c, ok := o["Condition"]; ok {
			if s, _ := c.(string); t.conditions[s] == nil {
				add(where+".Condition", "no condition %v", c)
			}
		}
	}
	used := map[string]bool{}
	for _, n := range sortedKeys(t.conditions) {
		errs = append(errs, t.checkRefs("Conditions."+n, t.conditions[n], true, used)...)
	}
	for _, n := range sortedKeys(t.resources) {
		errs = append(errs, t.checkRefs("Resources."+n, t.resources[n], false, used)...)
	}
	for _, n := range sortedKeys(t.outputs) {
		errs = append(errs, t.checkRefs("Outputs."+n, t.outputs[n], false, used)...)
	}
	if md, ok := t.raw["Metadata"].(map[string]any); ok {
		errs = append(errs, t.checkInterface(md)...)
	}
	for _, n := range sortedKeys(t.parameters) {
		if !used["param:"+n] {
			add("Parameters."+n, "never used")
		}
	}
	for _, n := range sortedKeys(t.conditions) {
		if !used["cond:"+n] {
			add("Conditions."+n, "never used")
		}
	}
	return errs
}

// checkInterface checks that the console's parameter groups name each
// parameter once and nothing else.
func (t *template) checkInterface(md map[string]any) []error {
	ui, ok := md["AWS::CloudFormation::Interface"].(map[string]any)
	if !ok {
		return nil
	}
	var errs []error
	seen := map[string]bool{}
	for i, g := range asList(ui["ParameterGroups"]) {
		gm, _ := g.(map[string]any)
		for _, p := range asList(gm["Parameters"]) {
			s, _ := p.(string)
			switch {
			case t.parameters[s] == nil:
				errs = append(errs, fmt.Errorf("%s: Metadata parameter group %d: no parameter %v", t.name, i, p))
			case seen[s]:
				errs = append(errs, fmt.Errorf("%s: Metadata parameter group %d: %s listed twice", t.name, i, s))
			}
			seen[s] = true
		}
	}
	for _, n := range sortedKeys(t.parameters) {
		if !seen[n] {
			errs = append(errs, fmt.Errorf("%s: Metadata: parameter %s is in no parameter group", t.name, n))
		}
	}
	return errs
}

// checkRefs walks v for intrinsic functions and checks what they name. In
// the Conditions section only parameters and other conditions may be named.
func (t *template) checkRefs(where string, v any, inConditions bool, used map[string]bool) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", t.name, where, fmt.Sprintf(format, args...)))
	}
	ref := func(name string) {
		switch {
		case t.parameters[name] != nil:
			used["param:"+name] = true
		case slices.Contains(pseudoParameters, name):
		case t.resources[name] != nil && !inConditions:
		default:
			add("Ref to %q, which is no parameter%s", name, map[bool]string{true: "", false: " or resource"}[inConditions])
		}
	}
	getAtt := func(res, attr string) {
		r := t.resources[res]
		if r == nil || inConditions {
			add("Fn::GetAtt of %q, which is no resource", res)
			return
		}
		typ, _ := r["Type"].(string)
		if rt, ok := resourceTypes[typ]; ok && !slices.Contains(rt.attributes, attr) {
			add("Fn::GetAtt: %s has no attribute %q", typ, attr)
		}
	}
	cond := func(name any) {
		s, _ := name.(string)
		if t.conditions[s] == nil {
			add("no condition %v", name)
			return
		}
		used["cond:"+s] = true
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			errs = append(errs, t.checkRefs(fmt.Sprintf("%s[%d]", where, i), e, inConditions, used)...)
		}
		return errs
	case map[string]any:
		fn, arg, ok := intrinsic(x)
		if !ok {
			for _, k := range sortedKeys(x) {
				if k == "Condition" && !inConditions {
					// A resource's or output's condition, counted as a use.
					if s, ok := x[k].(string); ok && t.conditions[s] != nil {
						used["cond:"+s] = true
					}
				}
				errs = append(errs, t.checkRefs(where+"."+k, x[k], inConditions, used)...)
			}
			return errs
		}
		where += "." + fn
		if inConditions && !slices.Contains(conditionFuncs, fn) && fn != "Ref" && fn != "Fn::FindInMap" && fn != "Fn::Join" && fn != "Fn::Select" && fn != "Fn::Split" && fn != "Fn::Sub" {
			add("%s cannot be used in a condition", fn)
		}
		switch fn {
		case "Ref":
			s, ok := arg.(string)
			if !ok {
				add("Ref takes a name, not %T", arg)
				return errs
			}
			ref(s)
			return errs
		case "Condition":
			cond(arg)
			return errs
		case "Fn::GetAtt":
			l := asList(arg)
			if len(l) != 2 {
				add("Fn::GetAtt takes [resource, attribute]")
				return errs
			}
			r, _ := l[0].(string)
			a, _ := l[1].(string)
			getAtt(r, a)
			return errs
		case "Fn::Sub":
			var text any = arg
			vars := map[string]any{}
			if l, ok := arg.([]any); ok {
				if len(l) != 2 {
					add("Fn::Sub takes a string or [string, variables]")
					return errs
				}
				text = l[0]
				vars, _ = l[1].(map[string]any)
				errs = append(errs, t.checkRefs(where+"[1]", l[1], inConditions, used)...)
			}
			s, ok := text.(string)
			if !ok {
				add("Fn::Sub's text is %T, not a string", text)
				return errs
			}
			for _, m := range subVariable.FindAllStringSubmatch(s, -1) {
				name := m[1]
				if strings.HasPrefix(name, "!") {
					continue // ${!Literal}
				}
				if _, ok := vars[name]; ok {
					continue
				}
				if res, attr, dotted := strings.Cut(name, "."); dotted && !slices.Contains(pseudoParameters, name) {
					getAtt(res, attr)
					continue
				}
				ref(name)
			}
			return errs
		case "Fn::If":
			l := asList(arg)
			if len(l) != 3 {
				add("Fn::If takes [condition, then, else]")
				return errs
			}
			cond(l[0])
			errs = append(errs, t.checkRefs(where+"[1]", l[1], inConditions, used)...)
			errs = append(errs, t.checkRefs(where+"[2]", l[2], inConditions, used)...)
			return errs
		case "Fn::Equals":
			if len(asList(arg)) != 2 {
				add("Fn::Equals takes two values")
			}
		case "Fn::Not":
			if len(asList(arg)) != 1 {
				add("Fn::Not takes a list of one condition")
			}
		case "Fn::And", "Fn::Or":
			if n := len(asList(arg)); n < 2 || n > 10 {
				add("%s takes 2 to 10 conditions", fn)
			}
		case "Fn::Join":
			l := asList(arg)
			if len(l) != 2 {
				add("Fn::Join takes [delimiter, list]")
			} else if _, ok := l[0].(string); !ok {
				add("Fn::Join's delimiter is not a string")
			}
		}
		return append(errs, t.checkRefs(where, arg, inConditions, used)...)
	}
	return nil
}

// admits checks a value given for a parameter against its constraints.
func (t *template) admits(name, value string) error {
	p := t.parameters[name]
	if p == nil {
		return fmt.Errorf("no parameter %s", name)
	}
	values := []string{value}
	typ, _ := p["Type"].(string)
	if typ == "CommaDelimitedList" || typ == "List<Number>" {
		values = splitList(value)
	}
	for _, v := range values {
		if av, ok := p["AllowedValues"]; ok {
			allowed := false
			for _, a := range asList(av) {
				allowed = allowed || scalarText(a) == v
			}
			if !allowed {
				return fmt.Errorf("%s: %q is not one of %v", name, v, av)
			}
		}
		if pat, ok := p["AllowedPattern"].(string); ok {
			re, err := regexp.Compile(pat)
			if err != nil {
				return fmt.Errorf("%s: AllowedPattern: %v", name, err)
			}
			if loc := re.FindStringIndex(v); loc == nil || loc[0] != 0 || loc[1] != len(v) {
				return fmt.Errorf("%s: %q does not match %s", name, v, pat)
			}
		}
		if typ == "Number" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", name, v)
			}
			if lo, ok := p["MinValue"]; ok && f < number(lo) {
				return fmt.Errorf("%s: %s is below %v", name, v, lo)
			}
			if hi, ok := p["MaxValue"]; ok && f > number(hi) {
				return fmt.Errorf("%s: %s is above %v", name, v, hi)
			}
		}
	}
	return nil
}

// stack is a template deployed on paper: parameters resolved, conditions
// decided, every intrinsic function evaluated.
type stack struct {
	t         *template
	account   string
	region    string
	partition string
	name      string

	params     map[string]any // string, or []string for lists
	conditions map[string]bool
	deciding   map[string]bool

	// Resources present under the conditions, with their properties
	// evaluated; Outputs likewise.
	Resources map[string]deployedResource
	Outputs   map[string]any
}

type deployedResource struct {
	Type       string
	Properties map[string]any
}

// noValue is what AWS::NoValue evaluates to: the property or list item is
// left out.
type noValueT struct{}

var noValue = noValueT{}

// deploy evaluates the template for the given parameter values (the rest
// take their defaults) in an example account and region.
func (t *template) deploy(values map[string]string) (*stack, error) {
	s := &stack{
		t: t, account: "111122223333", region: "eu-west-1", partition: "aws", name: "trailsentry",
		params: map[string]any{}, conditions: map[string]bool{}, deciding: map[string]bool{},
		Resources: map[string]deployedResource{}, Outputs: map[string]any{},
	}
	for k := range values {
		if t.parameters[k] == nil {
			return nil, fmt.Errorf("%s: no parameter %s", t.name, k)
		}
	}
	for _, n := range sortedKeys(t.parameters) {
		p := t.parameters[n]
		v, given := values[n]
		if !given {
			d, ok := p["Default"]
			if !ok {
				return nil, fmt.Errorf("%s: parameter %s has no default and no value", t.name, n)
			}
			v = scalarText(d)
		}
		if err := t.admits(n, v); err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		switch p["Type"] {
		case "CommaDelimitedList", "List<Number>":
			s.params[n] = splitList(v)
		default:
			s.params[n] = v
		}
	}
	for _, n := range sortedKeys(t.conditions) {
		if _, err := s.condition(n); err != nil {
			return nil, err
		}
	}
	for _, n := range sortedKeys(t.resources) {
		r := t.resources[n]
		if c, ok := r["Condition"].(string); ok && !s.conditions[c] {
			continue
		}
		typ, _ := r["Type"].(string)
		props := map[string]any{}
		if p, ok := r["Properties"]; ok {
			v, err := s.eval("Resources."+n+".Properties", p)
			if err != nil {
				return nil, err
			}
			if m, ok := v.(map[string]any); ok {
				props = m
			}
		}
		s.Resources[n] = deployedResource{Type: typ, Properties: props}
	}
	for _, n := range sortedKeys(t.outputs) {
		o := t.outputs[n]
		if c, ok := o["Condition"].(string); ok && !s.conditions[c] {
			continue
		}
		v, err := s.eval("Outputs."+n+".Value", o["Value"])
		if err != nil {
			return nil, err
		}
		s.Outputs[n] = v
	}
	return s, nil
}

// condition decides a named condition once.
func (s *stack) condition(name string) (bool, error) {
	if v, ok := s.conditions[name]; ok {
		return v, nil
	}
	def, ok := s.t.conditions[name]
	if !ok {
		return false, fmt.Errorf("%s: no condition %s", s.t.name, name)
	}
	if s.deciding[name] {
		return false, fmt.Errorf("%s: condition %s depends on itself", s.t.name, name)
	}
	s.deciding[name] = true
	v, err := s.eval("Conditions."+name, def)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: Conditions.%s is %T, not a condition", s.t.name, name, v)
	}
	s.conditions[name] = b
	return b, nil
}

// present reports whether a resource exists under the stack's conditions.
func (s *stack) present(name string) (map[string]any, error) {
	r := s.t.resources[name]
	if r == nil {
		return nil, fmt.Errorf("no resource %s", name)
	}
	if c, ok := r["Condition"].(string); ok {
		v, err := s.condition(c)
		if err != nil {
			return nil, err
		}
		if !v {
			return nil, fmt.Errorf("resource %s is left out (condition %s is false) but named here", name, c)
		}
	}
	return r, nil
}

// physicalName is the name CloudFormation would generate for a resource.
func (s *stack) physicalName(logical string) string {
	return s.name + "-" + logical + "-EXAMPLE1234"
}

// ref is what Ref returns for a resource of the stack.
func (s *stack) ref(logical string) (any, error) {
	r, err := s.present(logical)
	if err != nil {
		return nil, err
	}
	switch r["Type"] {
	case "AWS::SQS::Queue":
		return s.attr(logical, "QueueUrl")
	default:
		return s.physicalName(logical), nil
	}
}

// attr is what Fn::GetAtt returns.
func (s *stack) attr(logical, attr string) (any, error) {
	r, err := s.present(logical)
	if err != nil {
		return nil, err
	}
	n := s.physicalName(logical)
	typ, _ := r["Type"].(string)
	switch typ + "." + attr {
	case "AWS::SQS::Queue.Arn":
		return fmt.Sprintf("arn:%s:sqs:%s:%s:%s", s.partition, s.region, s.account, n), nil
	case "AWS::SQS::Queue.QueueUrl":
		return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", s.region, s.account, n), nil
	case "AWS::SQS::Queue.QueueName":
		return n, nil
	case "AWS::Events::Rule.Arn":
		return fmt.Sprintf("arn:%s:events:%s:%s:rule/%s", s.partition, s.region, s.account, n), nil
	case "AWS::IAM::Role.Arn":
		return fmt.Sprintf("arn:%s:iam::%s:role/%s", s.partition, s.account, n), nil
	case "AWS::IAM::InstanceProfile.Arn":
		return fmt.Sprintf("arn:%s:iam::%s:instance-profile/%s", s.partition, s.account, n), nil
	case "AWS::Lambda::Function.Arn":
		return fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", s.partition, s.region, s.account, n), nil
	case "AWS::Logs::LogGroup.Arn":
		return fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s:*", s.partition, s.region, s.account, n), nil
	}
	return nil, fmt.Errorf("Fn::GetAtt %s.%s: %s has no attribute %s modelled here", logical, attr, typ, attr)
}

// pseudo is the value of a pseudo parameter.
func (s *stack) pseudo(name string) (any, bool) {
	switch name {
	case "AWS::AccountId":
		return s.account, true
	case "AWS::Region":
		return s.region, true
	case "AWS::Partition":
		return s.partition, true
	case "AWS::StackName":
		return s.name, true
	case "AWS::StackId":
		return fmt.Sprintf("arn:%s:cloudformation:%s:%s:stack/%s/00000000-0000-0000-0000-000000000000", s.partition, s.region, s.account, s.name), true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	case "AWS::NoValue":
		return noValue, true
	case "AWS::NotificationARNs":
		return []any{}, true
	}
	return nil, false
}

// eval resolves every intrinsic function in v.
func (s *stack) eval(where string, v any) (any, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", s.t.name, where, fmt.Sprintf(format, args...))
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for i, e := range x {
			ev, err := s.eval(fmt.Sprintf("%s[%d]", where, i), e)
			if err != nil {
				return nil, err
			}
			if ev != noValue {
				out = append(out, ev)
			}
		}
		return out, nil
	case map[string]any:
		fn, arg, ok := intrinsic(x)
		if !ok {
			out := make(map[string]any, len(x))
			for _, k := range sortedKeys(x) {
				ev, err := s.eval(where+"."+k, x[k])
				if err != nil {
					return nil, err
				}
				if ev != noValue {
					out[k] = ev
				}
			}
			return out, nil
		}
		where += "." + fn
		switch fn {
		case "Ref":
			name, _ := arg.(string)
			if p, ok := s.params[name]; ok {
				if l, ok := p.([]string); ok {
					return anyList(l), nil
				}
				return p, nil
			}
			if p, ok := s.pseudo(name); ok {
				return p, nil
			}
			r, err := s.ref(name)
			if err != nil {
				return nil, fail("%v", err)
			}
			return r, nil
		case "Condition":
			name, _ := arg.(string)
			return s.condition(name)
		case "Fn::GetAtt":
			l := asList(arg)
			if len(l) != 2 {
				return nil, fail("takes [resource, attribute]")
			}
			r, _ := l[0].(string)
			a, _ := l[1].(string)
			v, err := s.attr(r, a)
			if err != nil {
				return nil, fail("%v", err)
			}
			return v, nil
		case "Fn::Sub":
			return s.sub(where, arg)
		case "Fn::Join":
			l := asList(arg)
			if len(l) != 2 {
				return nil, fail("takes [delimiter, list]")
			}
			delim, ok := l[0].(string)
			if !ok {
				return nil, fail("the delimiter is not a string")
			}
			items, err := s.eval(where+"[1]", l[1])
			if err != nil {
				return nil, err
			}
			il, ok := items.([]any)
			if !ok {
				return nil, fail("joins %T, not a list", items)
			}
			parts := make([]string, len(il))
			for i, it := range il {
				str, ok := stringOf(it)
				if !ok {
					return nil, fail("item %d is %T, not a string", i, it)
				}
				parts[i] = str
			}
			return strings.Join(parts, delim), nil
		case "Fn::If":
			l := asList(arg)
			if len(l) != 3 {
				return nil, fail("takes [condition, then, else]")
			}
			name, _ := l[0].(string)
			c, err := s.condition(name)
			if err != nil {
				return nil, fail("%v", err)
			}
			if c {
				return s.eval(where+"[1]", l[1])
			}
			return s.eval(where+"[2]", l[2])
		case "Fn::Equals":
			l, err := s.eval(where, arg)
			if err != nil {
				return nil, err
			}
			ll := asList(l)
			if len(ll) != 2 {
				return nil, fail("takes two values")
			}
			a, aok := stringOf(ll[0])
			b, bok := stringOf(ll[1])
			if !aok || !bok {
				return nil, fail("compares %T and %T, not strings", ll[0], ll[1])
			}
			return a == b, nil
		case "Fn::Not", "Fn::And", "Fn::Or":
			l, err := s.eval(where, arg)
			if err != nil {
				return nil, err
			}
			bs := asList(l)
			if len(bs) == 0 || (fn == "Fn::Not" && len(bs) != 1) {
				return nil, fail("wrong number of conditions")
			}
			acc := fn == "Fn::And"
			for _, b := range bs {
				bv, ok := b.(bool)
				if !ok {
					return nil, fail("%T is not a condition", b)
				}
				switch fn {
				case "Fn::Not":
					return !bv, nil
				case "Fn::And":
					acc = acc && bv
				case "Fn::Or":
					acc = acc || bv
				}
			}
			return acc, nil
		case "Fn::Select":
			l, err := s.eval(where, arg)
			if err != nil {
				return nil, err
			}
			ll := asList(l)
			if len(ll) != 2 {
				return nil, fail("takes [index, list]")
			}
			is, _ := stringOf(ll[0])
			i, err := strconv.Atoi(is)
			items := asList(ll[1])
			if err != nil || i < 0 || i >= len(items) {
				return nil, fail("index %v out of the list's %d items", ll[0], len(items))
			}
			return items[i], nil
		case "Fn::Split":
			l, err := s.eval(where, arg)
			if err != nil {
				return nil, err
			}
			ll := asList(l)
			if len(ll) != 2 {
				return nil, fail("takes [delimiter, string]")
			}
			d, dok := ll[0].(string)
			str, sok := ll[1].(string)
			if !dok || !sok || d == "" {
				return nil, fail("takes a delimiter and a string")
			}
			return anyList(strings.Split(str, d)), nil
		}
		return nil, fail("%s is not evaluated here", fn)
	}
	return v, nil
}

// sub evaluates Fn::Sub.
func (s *stack) sub(where string, arg any) (any, error) {
	text := arg
	vars := map[string]any{}
	if l, ok := arg.([]any); ok {
		if len(l) != 2 {
			return nil, fmt.Errorf("%s: %s: takes a string or [string, variables]", s.t.name, where)
		}
		text = l[0]
		v, err := s.eval(where+"[1]", l[1])
		if err != nil {
			return nil, err
		}
		vars, _ = v.(map[string]any)
	}
	str, ok := text.(string)
	if !ok {
		return nil, fmt.Errorf("%s: %s: the text is %T", s.t.name, where, text)
	}
	var firstErr error
	out := subVariable.ReplaceAllStringFunc(str, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		var v any
		var err error
		if vv, ok := vars[name]; ok {
			v = vv
		} else if p, ok := s.params[name]; ok {
			v = p
		} else if p, ok := s.pseudo(name); ok {
			v = p
		} else if res, attr, dotted := strings.Cut(name, "."); dotted {
			v, err = s.attr(res, attr)
		} else {
			v, err = s.ref(name)
		}
		str, ok := stringOf(v)
		if err == nil && !ok {
			err = fmt.Errorf("${%s} is %T, not a string", name, v)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %s: %w", s.t.name, where, err)
		}
		return str
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// intrinsic reports whether m is a function call: a mapping of one key that
// names a function.
func intrinsic(m map[string]any) (fn string, arg any, ok bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		if intrinsicFuncKeys[k] {
			return k, v, true
		}
	}
	return "", nil, false
}

func asList(v any) []any {
	switch l := v.(type) {
	case []any:
		return l
	case []string:
		return anyList(l)
	}
	return nil
}

func anyList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// stringOf gives the text of a string or number.
func stringOf(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case yamlNumber:
		return string(x), true
	}
	return "", false
}

// scalarText writes a scalar as CloudFormation passes it on.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case yamlNumber:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

func number(v any) float64 {
	f, _ := strconv.ParseFloat(scalarText(v), 64)
	return f
}

// splitList splits a CommaDelimitedList value as CloudFormation does:
// spaces around items are dropped, and "" is one empty item.
func splitList(v string) []string {
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// eventMatches reports whether an event matches an EventBridge event
// pattern: every field the pattern names must be in the event, and its value
// (or one of its values, for a list) must equal one of the pattern's values
// or pass one of its filters (prefix, suffix, wildcard, anything-but,
// exists). It covers what these templates use and errs on anything else.
func eventMatches(pattern, event map[string]any) (bool, error) {
	for _, k := range sortedKeys(pattern) {
		pv := pattern[k]
		ev, present := event[k]
		switch p := pv.(type) {
		case map[string]any:
			sub, ok := ev.(map[string]any)
			if !present || !ok {
				return false, nil
			}
			m, err := eventMatches(p, sub)
			if err != nil || !m {
				return false, err
			}
		case []any:
			m, err := fieldMatches(p, ev, present)
			if err != nil || !m {
				return false, err
			}
		default:
			return false, fmt.Errorf("pattern field %s: %T is neither an object nor a list", k, pv)
		}
	}
	return true, nil
}

func fieldMatches(alternatives []any, ev any, present bool) (bool, error) {
	values := []any{ev}
	if l, ok := ev.([]any); ok {
		values = l
	}
	for _, alt := range alternatives {
		if f, ok := alt.(map[string]any); ok {
			if len(f) != 1 {
				return false, fmt.Errorf("a filter has one key: %v", f)
			}
			if e, ok := f["exists"].(bool); ok {
				if e == present {
					return true, nil
				}
				continue
			}
			if !present {
				continue
			}
			for _, v := range values {
				m, err := filterMatches(f, v)
				if err != nil {
					return false, err
				}
				if m {
					return true, nil
				}
			}
			continue
		}
		if !present {
			continue
		}
		for _, v := range values {
			if scalarEqual(alt, v) {
				return true, nil
			}
		}
	}
	return false, nil
}

func filterMatches(f map[string]any, v any) (bool, error) {
	s, isString := v.(string)
	for op, arg := range f {
		switch op {
		case "prefix", "suffix", "wildcard":
			a, ok := arg.(string)
			if !ok {
				return false, fmt.Errorf("%s takes a string", op)
			}
			if !isString {
				return false, nil
			}
			switch op {
			case "prefix":
				return strings.HasPrefix(s, a), nil
			case "suffix":
				return strings.HasSuffix(s, a), nil
			default:
				return wildcard(a, s), nil
			}
		case "anything-but":
			for _, a := range append(asList(arg), arg) {
				if scalarEqual(a, v) {
					return false, nil
				}
			}
			return true, nil
		}
		return false, fmt.Errorf("filter %q is not modelled here", op)
	}
	return false, nil
}

// wildcard matches s against a pattern where * is any run of characters.
func wildcard(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

func scalarEqual(a, b any) bool {
	as, aok := stringOf(a)
	bs, bok := stringOf(b)
	if aok && bok {
		return as == bs
	}
	switch x := a.(type) {
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	if f, ok := b.(float64); ok && aok {
		g, err := strconv.ParseFloat(as, 64)
		return err == nil && f == g
	}
	return false
}

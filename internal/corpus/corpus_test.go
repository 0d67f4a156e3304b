package corpus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// recordMembers are the top-level members a CloudTrail record may have; a
// misspelt key fails the test.
var recordMembers = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`eventVersion userIdentity eventTime eventSource eventName awsRegion
		sourceIPAddress userAgent errorCode errorMessage requestParameters responseElements additionalEventData
		requestID eventID readOnly resources eventType apiVersion managementEvent recipientAccountId
		serviceEventDetails sharedEventID vpcEndpointId vpcEndpointAccountId eventCategory tlsDetails
		sessionCredentialFromConsole`) {
		m[k] = true
	}
	return m
}()

// record is the CloudTrail record shape the corpus promises.
type record struct {
	EventVersion string `json:"eventVersion"`
	UserIdentity struct {
		Type           string `json:"type"`
		PrincipalID    string `json:"principalId"`
		ARN            string `json:"arn"`
		AccountID      string `json:"accountId"`
		AccessKeyID    string `json:"accessKeyId"`
		UserName       string `json:"userName"`
		InvokedBy      string `json:"invokedBy"`
		SessionContext *struct {
			SessionIssuer struct {
				Type        string `json:"type"`
				PrincipalID string `json:"principalId"`
				ARN         string `json:"arn"`
				AccountID   string `json:"accountId"`
				UserName    string `json:"userName"`
			} `json:"sessionIssuer"`
			Attributes struct {
				CreationDate     string `json:"creationDate"`
				MFAAuthenticated string `json:"mfaAuthenticated"`
			} `json:"attributes"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	EventTime           string          `json:"eventTime"`
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress"`
	UserAgent           string          `json:"userAgent"`
	ErrorCode           string          `json:"errorCode"`
	ErrorMessage        string          `json:"errorMessage"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	AdditionalEventData json.RawMessage `json:"additionalEventData"`
	RequestID           string          `json:"requestID"`
	EventID             string          `json:"eventID"`
	ReadOnly            *bool           `json:"readOnly"`
	Resources           []struct {
		ARN       string `json:"ARN"`
		AccountID string `json:"accountId"`
		Type      string `json:"type"`
	} `json:"resources"`
	EventType            string          `json:"eventType"`
	ManagementEvent      *bool           `json:"managementEvent"`
	RecipientAccountID   string          `json:"recipientAccountId"`
	ServiceEventDetails  json.RawMessage `json:"serviceEventDetails"`
	VPCEndpointID        string          `json:"vpcEndpointId"`
	VPCEndpointAccountID string          `json:"vpcEndpointAccountId"`
	EventCategory        string          `json:"eventCategory"`
	TLSDetails           *struct {
		TLSVersion               string `json:"tlsVersion"`
		CipherSuite              string `json:"cipherSuite"`
		ClientProvidedHostHeader string `json:"clientProvidedHostHeader"`
	} `json:"tlsDetails"`
	SessionCredentialFromConsole string `json:"sessionCredentialFromConsole"`

	size int    // bytes of compact JSON
	file string // path relative to the corpus root
}

// logFile is one decoded .json.gz file.
type logFile struct {
	path    string // relative, with forward slashes
	records []record
}

var (
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	fileRE  = regexp.MustCompile(`^AWSLogs/(?:(o-[a-z0-9]{10})/)?(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8}T\d{4}Z)_[A-Za-z0-9]{16}\.json\.gz$`)
	globals = map[string]bool{"iam.amazonaws.com": true, "signin.amazonaws.com": true, "organizations.amazonaws.com": true, "route53.amazonaws.com": true}
)

// readCorpus decodes every file under dir with encoding/json.
func readCorpus(t *testing.T, dir string) []logFile {
	t.Helper()
	var files []logFile
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json.gz") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			return err
		}
		var doc struct {
			Records []json.RawMessage
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return err
		}
		if !bytes.HasPrefix(raw, []byte(`{"Records":[{`)) || !bytes.HasSuffix(raw, []byte(`}]}`)) {
			t.Errorf("%s: not a compact CloudTrail document", rel)
		}
		lf := logFile{path: rel}
		for i, r := range doc.Records {
			var rec record
			var members map[string]json.RawMessage
			if err := json.Unmarshal(r, &members); err != nil {
				t.Errorf("%s record %d: %v", rel, i, err)
				continue
			}
			for k := range members {
				if !recordMembers[k] {
					t.Errorf("%s record %d: unknown member %q", rel, i, k)
				}
			}
			if err := json.Unmarshal(r, &rec); err != nil {
				t.Errorf("%s record %d: %v", rel, i, err)
				continue
			}
			rec.size = len(r)
			rec.file = rel
			lf.records = append(lf.records, rec)
		}
		files = append(files, lf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func generate(t *testing.T, opt Options) ([]Planted, []logFile) {
	t.Helper()
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	planted, err := Generate(context.Background(), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return planted, readCorpus(t, opt.Dir)
}

func TestGenerateRealisticCorpus(t *testing.T) {
	const events, nfiles = 20000, 40
	start := time.Date(2025, 2, 3, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	planted, files := generate(t, Options{Dir: dir, Events: events, Files: nfiles, Seed: 7, Start: start})

	var all []record
	for _, f := range files {
		all = append(all, f.records...)
	}
	plantedIDs := map[string]Planted{}
	for _, p := range planted {
		plantedIDs[p.EventID] = p
	}

	t.Run("layout", func(t *testing.T) {
		if len(files) != nfiles {
			t.Fatalf("%d files, want %d", len(files), nfiles)
		}
		orgFiles := 0
		for _, f := range files {
			m := fileRE.FindStringSubmatch(f.path)
			if m == nil {
				t.Errorf("file path %q does not follow the CloudTrail layout", f.path)
				continue
			}
			if m[1] != "" {
				orgFiles++
				if m[2] != defaultAccounts[2] {
					t.Errorf("%s: organization trail path for account %s", f.path, m[2])
				}
			}
			account, region := m[2], m[3]
			if m[7] != account || m[8] != region {
				t.Errorf("%s: file name does not match its folder", f.path)
			}
			if m[9][:8] != m[4]+m[5]+m[6] {
				t.Errorf("%s: file timestamp not in its day folder", f.path)
			}
			if n := len(f.records); n != events/nfiles {
				t.Errorf("%s: %d records, want %d", f.path, n, events/nfiles)
			}
			for i, r := range f.records {
				if r.RecipientAccountID != account || r.AWSRegion != region {
					t.Errorf("%s: record %s for %s/%s", f.path, r.EventID, r.RecipientAccountID, r.AWSRegion)
				}
				if i > 0 && r.EventTime < f.records[i-1].EventTime {
					t.Errorf("%s: records out of time order at %d", f.path, i)
				}
			}
		}
		if orgFiles == 0 || orgFiles == len(files) {
			t.Errorf("%d of %d files under the organization trail, want some", orgFiles, len(files))
		}
		if _, err := os.Stat(filepath.Join(dir, GroundTruthFile)); err != nil {
			t.Error(err)
		}
	})

	t.Run("envelope", func(t *testing.T) {
		if len(all) != events {
			t.Fatalf("%d records, want %d", len(all), events)
		}
		first, last := "", ""
		ids := map[string]bool{}
		for _, r := range all {
			if r.EventVersion != "1.08" && r.EventVersion != "1.09" {
				t.Fatalf("%s: eventVersion %q", r.EventID, r.EventVersion)
			}
			if !uuidRE.MatchString(r.EventID) {
				t.Fatalf("eventID %q is not a UUIDv4", r.EventID)
			}
			if ids[r.EventID] {
				t.Fatalf("eventID %s repeated", r.EventID)
			}
			ids[r.EventID] = true
			ts, err := time.Parse("2006-01-02T15:04:05Z", r.EventTime)
			if err != nil {
				t.Fatalf("%s: eventTime %q", r.EventID, r.EventTime)
			}
			if ts.Before(start) || ts.After(start.Add(span+window)) {
				t.Fatalf("%s: eventTime %s outside the corpus span", r.EventID, r.EventTime)
			}
			if first == "" || r.EventTime < first {
				first = r.EventTime
			}
			if r.EventTime > last {
				last = r.EventTime
			}
			if r.ReadOnly == nil || r.ManagementEvent == nil || r.RequestID == "" || r.EventType == "" ||
				r.SourceIPAddress == "" || r.UserAgent == "" || r.RequestParameters == nil || r.ResponseElements == nil {
				t.Fatalf("%s: missing envelope members", r.EventID)
			}
			if !strings.HasSuffix(r.EventSource, ".amazonaws.com") {
				t.Fatalf("%s: eventSource %q", r.EventID, r.EventSource)
			}
			if globals[r.EventSource] && r.AWSRegion != "us-east-1" {
				t.Errorf("%s: global service %s logged in %s", r.EventID, r.EventSource, r.AWSRegion)
			}
			data := r.EventCategory == "Data"
			if data == *r.ManagementEvent || (!data && r.EventCategory != "Management") {
				t.Errorf("%s: eventCategory %q with managementEvent %v", r.EventID, r.EventCategory, *r.ManagementEvent)
			}
			if r.ErrorCode != "" && string(r.ResponseElements) != "null" {
				t.Errorf("%s: failed call with responseElements", r.EventID)
			}
			if r.VPCEndpointID != "" && !strings.HasPrefix(r.SourceIPAddress, "10.") {
				t.Errorf("%s: VPC endpoint call from %s", r.EventID, r.SourceIPAddress)
			}
		}
		if first != start.Format("2006-01-02T15:04:05Z") {
			t.Errorf("first event at %s, want %s", first, start)
		}
		if d, _ := time.Parse(time.RFC3339, last); d.Sub(start) < 48*time.Hour {
			t.Errorf("corpus spans %s to %s, want a few days", first, last)
		}
	})

	t.Run("mix", func(t *testing.T) {
		names, sources := map[string]bool{}, map[string]bool{}
		size, failed, assumed, data, assumeRole := 0, 0, 0, 0, 0
		types := map[string]int{}
		for _, r := range all {
			names[r.EventName] = true
			sources[r.EventSource] = true
			size += r.size
			types[r.UserIdentity.Type]++
			if r.ErrorCode != "" || r.ErrorMessage != "" {
				failed++
			}
			if r.UserIdentity.Type == "AssumedRole" {
				assumed++
			}
			if r.EventCategory == "Data" {
				data++
			}
			if r.EventName == "AssumeRole" {
				assumeRole++
			}
		}
		n := float64(len(all))
		avg := float64(size) / n
		t.Logf("%d names, %d sources, %.0f bytes/record, %.1f%% failed, %.1f%% AssumedRole, %.1f%% data, %.1f%% AssumeRole, identity types %v",
			len(names), len(sources), avg, 100*float64(failed)/n, 100*float64(assumed)/n, 100*float64(data)/n, 100*float64(assumeRole)/n, types)
		if avg < 1000 || avg > 2000 {
			t.Errorf("average record is %.0f bytes, want 1–2 KB", avg)
		}
		if len(names) < 150 {
			t.Errorf("%d distinct eventNames, want at least 150", len(names))
		}
		if len(sources) < 25 {
			t.Errorf("%d distinct eventSources, want at least 25", len(sources))
		}
		if r := float64(failed) / n; r < 0.02 || r > 0.04 {
			t.Errorf("%.2f%% of calls failed, want about 3%%", 100*r)
		}
		if r := float64(assumed) / n; r < 0.68 || r > 0.82 {
			t.Errorf("%.1f%% AssumedRole, want about 75%%", 100*r)
		}
		if r := float64(data) / n; r < 0.07 || r > 0.13 {
			t.Errorf("%.1f%% data events, want about 10%%", 100*r)
		}
		if r := float64(assumeRole) / n; r < 0.08 {
			t.Errorf("AssumeRole is only %.1f%% of the trail", 100*r)
		}
		for _, typ := range []string{"IAMUser", "AWSService", "WebIdentityUser", "Root"} {
			if types[typ] == 0 {
				t.Errorf("no %s identities", typ)
			}
		}
	})

	t.Run("identities", func(t *testing.T) {
		for _, r := range all {
			u := r.UserIdentity
			switch u.Type {
			case "AssumedRole":
				sc := u.SessionContext
				if sc == nil || sc.SessionIssuer.Type != "Role" || !strings.HasPrefix(sc.SessionIssuer.PrincipalID, "AROA") {
					t.Fatalf("%s: AssumedRole without a role session issuer", r.EventID)
				}
				session := strings.TrimPrefix(u.PrincipalID, sc.SessionIssuer.PrincipalID+":")
				if session == u.PrincipalID || !strings.HasSuffix(u.ARN, ":assumed-role/"+sc.SessionIssuer.UserName+"/"+session) {
					t.Fatalf("%s: principalId %s does not match arn %s", r.EventID, u.PrincipalID, u.ARN)
				}
				if !strings.HasPrefix(u.AccessKeyID, "ASIA") || len(u.AccessKeyID) != 20 {
					t.Fatalf("%s: AssumedRole with access key %q", r.EventID, u.AccessKeyID)
				}
				created, err := time.Parse(time.RFC3339, sc.Attributes.CreationDate)
				ev, _ := time.Parse(time.RFC3339, r.EventTime)
				if err != nil || created.After(ev) || ev.Sub(created) > time.Hour {
					t.Fatalf("%s: session created %s for an event at %s", r.EventID, sc.Attributes.CreationDate, r.EventTime)
				}
			case "IAMUser":
				if r.EventType == "AwsConsoleSignIn" {
					continue
				}
				if u.SessionContext == nil && !strings.HasPrefix(u.AccessKeyID, "AKIA") {
					t.Fatalf("%s: IAM user calling with key %q", r.EventID, u.AccessKeyID)
				}
			case "AWSService":
				if u.InvokedBy == "" || r.SourceIPAddress != u.InvokedBy || r.TLSDetails != nil {
					t.Fatalf("%s: AWS service call %+v from %s", r.EventID, u, r.SourceIPAddress)
				}
			}
		}
	})

	t.Run("readOnly", func(t *testing.T) {
		for _, r := range all {
			op := trimAPIVersion(r.EventName)
			for _, p := range []string{"Describe", "List", "Get", "Head", "Lookup", "Filter"} {
				if strings.HasPrefix(op, p) && !*r.ReadOnly {
					t.Errorf("%s is not read-only", r.EventName)
				}
			}
			for _, p := range []string{"Create", "Delete", "Put", "Update", "Attach", "Authorize", "Revoke", "Run", "Terminate", "Stop", "Start", "Modify", "Register", "Deregister", "Tag", "Set", "Console"} {
				if strings.HasPrefix(op, p) && op != "StartQuery" && *r.ReadOnly {
					t.Errorf("%s is read-only", r.EventName)
				}
			}
		}
	})

	t.Run("shapes", func(t *testing.T) {
		seen := map[string]bool{}
		for _, r := range all {
			switch r.EventName {
			case "GetObject", "PutObject":
				var p struct{ BucketName, Key, Host string }
				if err := json.Unmarshal(r.RequestParameters, &p); err != nil || p.BucketName == "" || p.Key == "" {
					t.Fatalf("%s %s: requestParameters %s", r.EventName, r.EventID, r.RequestParameters)
				}
				if len(r.Resources) != 2 || r.Resources[0].ARN != "arn:aws:s3:::"+p.BucketName+"/"+p.Key || r.Resources[1].Type != "AWS::S3::Bucket" {
					t.Fatalf("%s %s: resources %+v", r.EventName, r.EventID, r.Resources)
				}
				if r.TLSDetails != nil && r.TLSDetails.ClientProvidedHostHeader != p.Host {
					t.Fatalf("%s: host header %q for %q", r.EventID, r.TLSDetails.ClientProvidedHostHeader, p.Host)
				}
			case "AssumeRole":
				if r.ErrorCode != "" {
					break
				}
				var p struct{ RoleArn, RoleSessionName string }
				var q struct {
					Credentials     struct{ AccessKeyID, SessionToken, Expiration string }
					AssumedRoleUser struct{ AssumedRoleID, ARN string }
				}
				if json.Unmarshal(r.RequestParameters, &p) != nil || json.Unmarshal(r.ResponseElements, &q) != nil ||
					!strings.HasPrefix(p.RoleArn, "arn:aws:iam::") || !strings.HasPrefix(q.Credentials.AccessKeyID, "ASIA") ||
					len(q.Credentials.SessionToken) < 300 || !strings.HasSuffix(q.AssumedRoleUser.ARN, "/"+p.RoleSessionName) {
					t.Fatalf("AssumeRole %s: %s → %s", r.EventID, r.RequestParameters, r.ResponseElements)
				}
			case "RunInstances":
				var q struct {
					InstancesSet struct{ Items []struct{ InstanceID string } }
				}
				if r.ErrorCode == "" && (json.Unmarshal(r.ResponseElements, &q) != nil || len(q.InstancesSet.Items) == 0 ||
					!strings.HasPrefix(q.InstancesSet.Items[0].InstanceID, "i-")) {
					t.Fatalf("RunInstances %s: %s", r.EventID, r.ResponseElements)
				}
			case "AuthorizeSecurityGroupIngress":
				var p struct {
					IPPermissions struct {
						Items []struct {
							FromPort int
							IPRanges struct{ Items []struct{ CidrIP string } }
						}
					}
				}
				if json.Unmarshal(r.RequestParameters, &p) != nil || len(p.IPPermissions.Items) == 0 ||
					len(p.IPPermissions.Items[0].IPRanges.Items) == 0 || p.IPPermissions.Items[0].IPRanges.Items[0].CidrIP == "" {
					t.Fatalf("AuthorizeSecurityGroupIngress %s: %s", r.EventID, r.RequestParameters)
				}
			case "PutBucketPolicy":
				var p struct {
					BucketPolicy struct {
						Statement []struct{ Principal json.RawMessage }
					}
				}
				if json.Unmarshal(r.RequestParameters, &p) != nil || len(p.BucketPolicy.Statement) == 0 || p.BucketPolicy.Statement[0].Principal == nil {
					t.Fatalf("PutBucketPolicy %s: %s", r.EventID, r.RequestParameters)
				}
			case "ConsoleLogin":
				var a struct{ MFAUsed string }
				if json.Unmarshal(r.AdditionalEventData, &a) != nil || a.MFAUsed == "" || r.EventType != "AwsConsoleSignIn" {
					t.Fatalf("ConsoleLogin %s: %s", r.EventID, r.AdditionalEventData)
				}
			default:
				continue
			}
			seen[r.EventName] = true
		}
		for _, n := range []string{"GetObject", "PutObject", "AssumeRole", "RunInstances", "AuthorizeSecurityGroupIngress", "PutBucketPolicy", "ConsoleLogin"} {
			if !seen[n] {
				t.Errorf("no %s in the corpus", n)
			}
		}
	})

	t.Run("planted", func(t *testing.T) {
		want := 0
		for _, s := range newScenarios() {
			want += len(s.steps)
		}
		if len(planted) != want {
			t.Errorf("%d planted records, want one of every scenario step (%d)", len(planted), want)
		}
		found := map[string]int{}
		for _, r := range all {
			if p, ok := plantedIDs[r.EventID]; ok {
				found[r.EventID]++
				if p.EventName != r.EventName || p.EventSource != r.EventSource || p.File != r.file {
					t.Errorf("planted %s is %s/%s in %s, ground truth says %s/%s in %s",
						r.EventID, r.EventSource, r.EventName, r.file, p.EventSource, p.EventName, p.File)
				}
			}
		}
		techniques := map[string]bool{}
		for _, p := range planted {
			if found[p.EventID] != 1 {
				t.Errorf("planted %s (%s) found %d times", p.EventID, p.EventName, found[p.EventID])
			}
			if !regexp.MustCompile(`^T\d{4}(\.\d{3})?$`).MatchString(p.Technique) || p.Description == "" {
				t.Errorf("planted %s: technique %q, description %q", p.EventID, p.Technique, p.Description)
			}
			techniques[p.Technique] = true
		}
		if len(techniques) < 10 {
			t.Errorf("only %d distinct techniques planted", len(techniques))
		}

		raw, err := os.ReadFile(filepath.Join(dir, GroundTruthFile))
		if err != nil {
			t.Fatal(err)
		}
		var truth []Planted
		if err := json.Unmarshal(raw, &truth); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(truth, planted) {
			t.Errorf("%s differs from the returned ground truth", GroundTruthFile)
		}
	})

	// The ground truth is exact: attack signatures appear only in planted
	// records, so a detector's misses and false alarms can be counted.
	t.Run("background is clean", func(t *testing.T) {
		attackOnly := map[string]bool{
			"StopLogging": true, "DeleteTrail": true, "DeleteDetector": true, "GetPasswordData": true,
			"CreateUser": true, "CreateAccessKey": true, "AttachUserPolicy": true, "DeleteFlowLogs": true,
			"StopConfigurationRecorder": true, "ModifySnapshotAttribute": true, "PutBucketVersioning": true,
		}
		signatures := 0
		for _, r := range all {
			var reasons []string
			if attackOnly[r.EventName] {
				reasons = append(reasons, r.EventName)
			}
			if r.UserIdentity.Type == "Root" {
				reasons = append(reasons, "root")
			}
			if bytes.Contains(r.RequestParameters, []byte(`0.0.0.0/0`)) || bytes.Contains(r.RequestParameters, []byte(`"Principal":"*"`)) {
				reasons = append(reasons, "open to the world")
			}
			if ua := strings.ToLower(r.UserAgent); strings.Contains(ua, "kali") || strings.Contains(ua, "pacu") || strings.Contains(ua, "trufflehog") {
				reasons = append(reasons, "offensive tool")
			}
			if r.EventName == "ConsoleLogin" && (!bytes.Contains(r.AdditionalEventData, []byte(`"MFAUsed":"Yes"`)) || r.ErrorMessage != "") {
				reasons = append(reasons, "risky sign-in")
			}
			_, isPlanted := plantedIDs[r.EventID]
			if len(reasons) > 0 {
				signatures++
				if !isPlanted {
					t.Errorf("background record %s (%s) looks like an attack: %v", r.EventID, r.EventName, reasons)
				}
			}
		}
		if signatures == 0 {
			t.Error("no attack signatures at all")
		}
	})
}

func TestGenerateIsDeterministic(t *testing.T) {
	opt := Options{Events: 3000, Files: 7, Seed: 42}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	opt.Dir = a
	pa, err := Generate(context.Background(), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GOMAXPROCS(4)
	opt.Dir = b
	pb, err := Generate(context.Background(), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	opt.Dir, opt.Seed = c, 43
	if _, err := Generate(context.Background(), opt, nil); err != nil {
		t.Fatal(err)
	}

	if !slices.Equal(pa, pb) {
		t.Error("planted records differ between runs")
	}
	ta, tb, tc := tree(t, a), tree(t, b), tree(t, c)
	if len(ta) != 7+1 {
		t.Fatalf("%d files, want 7 logs and the ground truth", len(ta))
	}
	for name, data := range ta {
		if !bytes.Equal(data, tb[name]) {
			t.Errorf("%s differs between 1 and 4 workers", name)
		}
	}
	same := 0
	for name := range ta {
		if _, ok := tc[name]; ok {
			same++
		}
	}
	if same > 1 { // only ground-truth.json keeps its name
		t.Errorf("seed 43 produced %d of seed 42's file names", same)
	}
}

func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenerateSmallCorpora(t *testing.T) {
	t.Run("one event per file", func(t *testing.T) {
		planted, files := generate(t, Options{Events: 12, Files: 12, Seed: 3, Accounts: []string{"111122223333"}})
		if len(files) != 12 || len(planted) != 0 {
			t.Fatalf("%d files, %d planted", len(files), len(planted))
		}
		for _, f := range files {
			if len(f.records) != 1 || strings.Contains(f.path, "/o-") {
				t.Errorf("%s: %d records", f.path, len(f.records))
			}
		}
	})
	t.Run("uneven split", func(t *testing.T) {
		_, files := generate(t, Options{Events: 1003, Files: 10, Seed: 3})
		total := 0
		for _, f := range files {
			total += len(f.records)
			if n := len(f.records); n != 100 && n != 101 {
				t.Errorf("%s: %d records", f.path, n)
			}
		}
		if total != 1003 {
			t.Errorf("%d records, want 1003", total)
		}
	})
	t.Run("a few planted", func(t *testing.T) {
		planted, files := generate(t, Options{Events: 2000, Files: 4, Seed: 3})
		if len(planted) < plantedEvents(2000) {
			t.Errorf("%d planted, want at least %d", len(planted), plantedEvents(2000))
		}
		ids := map[string]bool{}
		for _, f := range files {
			for _, r := range f.records {
				ids[r.EventID] = true
			}
		}
		for _, p := range planted {
			if !ids[p.EventID] {
				t.Errorf("planted %s missing", p.EventID)
			}
		}
	})
}

func TestPlantedEvents(t *testing.T) {
	for _, tc := range []struct{ events, want int }{
		{0, 0}, {499, 0}, {500, 1}, {9999, 19}, {10000, 20}, {400000, 20}, {1000000, 50},
	} {
		if got := plantedEvents(tc.events); got != tc.want {
			t.Errorf("plantedEvents(%d) = %d, want %d", tc.events, got, tc.want)
		}
	}
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	for _, opt := range []Options{
		{Events: 10},
		{Dir: dir, Events: 0},
		{Dir: dir, Events: 10, Files: 11},
		{Dir: dir, Events: 10, Files: -1},
		{Dir: dir, Events: 10, Accounts: []string{"12345"}},
		{Dir: dir, Events: 10, Accounts: []string{"12345678901x"}},
		{Dir: dir, Events: 10, Accounts: []string{"111122223333", "111122223333"}},
	} {
		if _, err := Generate(context.Background(), opt, nil); err == nil {
			t.Errorf("Generate(%+v) succeeded", opt)
		}
	}
}

func TestGenerateProgressAndCancel(t *testing.T) {
	var calls []int
	_, err := Generate(context.Background(), Options{Dir: t.TempDir(), Events: 500, Files: 9}, func(done, total int) {
		if total != 9 {
			t.Errorf("total %d, want 9", total)
		}
		calls = append(calls, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("progress calls %v", calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Generate(ctx, Options{Dir: t.TempDir(), Events: 5000, Files: 50}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Generate returned %v", err)
	}
}

func TestAppendQuotedMatchesEncodingJSON(t *testing.T) {
	cases := []string{
		"", "plain", `quote " and backslash \`, "tab\tnewline\nreturn\r", "\x00\x01\x1f\x7f",
		"\b\f", "<script>&amp;</script>", "é ü 日本 🙂", "line\u2028para\u2029", "bad \xff utf8 \xc3",
		`{"Version":"2012-10-17","Statement":[]}`, "trailing \xe2\x82",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := appendQuoted(nil, s)
		if string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("appendQuoted(%q) = %s, want %s", s, got, want.String())
		}
	}
}

func TestJSONWriter(t *testing.T) {
	w := jsonWriter{}
	w.buf = append(w.buf, '{')
	w.Str("a", "x\"y")
	w.Int("n", -3)
	w.Bool("b", true)
	w.Null("z")
	w.Object("o")
	w.Empty("e")
	w.Items("set")
	w.Item()
	w.Cat("k", "p", "\n", "q")
	w.End()
	w.Item()
	w.End()
	w.EndItems()
	w.End()
	w.Array("arr")
	w.StrItem("1")
	w.StrItem("2")
	w.EndArray()
	w.Time("t", time.Date(2024, 3, 11, 1, 2, 3, 999, time.FixedZone("X", 3600)))
	w.End()
	want := `{"a":"x\"y","n":-3,"b":true,"z":null,"o":{"e":{},"set":{"items":[{"k":"p\nq"},{}]}},"arr":["1","2"],"t":"2024-03-11T00:02:03Z"}`
	if string(w.buf) != want {
		t.Errorf("got  %s\nwant %s", w.buf, want)
	}
}

func TestKebab(t *testing.T) {
	for in, want := range map[string]string{
		"DescribeInstances":   "describe-instances",
		"DescribeDBInstances": "describe-db-instances",
		"GetCallerIdentity":   "get-caller-identity",
		"ListMFADevices":      "list-mfa-devices",
		"PutObject":           "put-object",
	} {
		if got := kebab(in); got != want {
			t.Errorf("kebab(%q) = %q, want %q", in, got, want)
		}
	}
	if got := trimAPIVersion("UpdateFunctionCode20150331v2"); got != "UpdateFunctionCode" {
		t.Errorf("trimAPIVersion = %q", got)
	}
}

func TestAppendUUID(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	seen := map[string]bool{}
	for range 1000 {
		u := newUUID(r)
		if !uuidRE.MatchString(u) || seen[u] {
			t.Fatalf("bad or repeated UUID %q", u)
		}
		seen[u] = true
	}
}

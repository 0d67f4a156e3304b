package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sigmaDir holds SigmaHQ's CloudTrail rules, verbatim (see its README).
const sigmaDir = "../../../shared/sigma-rules"

func loadSigma(t testing.TB) []*Rule {
	t.Helper()
	if _, err := os.Stat(sigmaDir); err != nil {
		t.Skipf("SigmaHQ rules not available: %v", err)
	}
	rules, errs := LoadPath(sigmaDir)
	for _, err := range errs {
		t.Errorf("load error: %v", err)
	}
	return rules
}

// TestSigmaRulesLoad loads every file of the SigmaHQ set: each must give
// exactly its rule, without error, and evaluate on every fixture without
// panicking.
func TestSigmaRulesLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(sigmaDir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Skipf("no SigmaHQ rules: %v", err)
	}
	var events []string
	for _, rec := range fixtures {
		events = append(events, rec)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rules, errs := ParseRules(data, f)
		if len(errs) > 0 || len(rules) != 1 {
			t.Errorf("%s: %d rules, errors %v", filepath.Base(f), len(rules), errs)
			continue
		}
		r := rules[0]
		if r.ID == "" || r.Title == "" || r.Level == "" || r.Logsource.Product != "aws" {
			t.Errorf("%s: metadata incomplete: %+v", filepath.Base(f), r)
		}
		for _, rec := range events {
			r.Match(testView(decode(t, rec))) // must not panic
		}
	}
	if rules := loadSigma(t); len(rules) != len(files) {
		t.Errorf("LoadPath loaded %d rules from %d files", len(rules), len(files))
	}
}

// TestSigmaRulesSemantics checks specific SigmaHQ rules, unmodified, against
// events that must match and events that must not.
func TestSigmaRulesSemantics(t *testing.T) {
	byFile := map[string]*Rule{}
	for _, r := range loadSigma(t) {
		byFile[filepath.Base(r.Source)] = r
	}
	dbRestore := with(t, evModifyDBInstancePassword, map[string]any{"eventName": "RestoreDBInstanceFromDBSnapshot", "responseElements.publiclyAccessible": true})
	exportTask := with(t, evSecurityGroupIngress, map[string]any{"eventName": "CreateInstanceExportTask",
		"requestParameters": map[string]any{"instanceId": "i-0abc123def4567890", "targetEnvironment": "vmware"},
		"responseElements":  map[string]any{"exportTask": map[string]any{"state": "active"}}})
	layer := with(t, evSecurityGroupIngress, map[string]any{"eventSource": "lambda.amazonaws.com", "eventName": "UpdateFunctionConfiguration20150331v2",
		"requestParameters": map[string]any{"functionName": "billing", "layers": []any{"arn:aws:lambda:us-east-1:999999999999:layer:evil:1"}}})
	s3browserPolicy := with(t, evCreateAccessKey, map[string]any{"eventName": "PutUserPolicy", "userAgent": "S3 Browser 11.5.7 https://s3browser.com",
		"requestParameters": map[string]any{"userName": "mallory", "policyName": "s3",
			"policyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::<YOUR-BUCKET-NAME>/*"]}]}`}})

	for _, c := range []struct {
		file  string
		match map[string]string
		miss  map[string]string
	}{
		{"aws_cloudtrail_disable_logging.yml",
			map[string]string{"StopLogging": evStopLoggingRoot,
				"DeleteTrail": with(t, evStopLoggingRoot, map[string]any{"eventName": "DeleteTrail"})},
			map[string]string{"StartLogging": with(t, evStopLoggingRoot, map[string]any{"eventName": "StartLogging"}),
				"other service":   with(t, evStopLoggingRoot, map[string]any{"eventSource": "s3.amazonaws.com"}),
				"CreateAccessKey": evCreateAccessKey}},
		{"aws_cloudtrail_console_login_success_without_mfa.yml",
			map[string]string{"MFAUsed No (rule says NO)": evConsoleLoginNoMFA},
			map[string]string{"MFA used": evConsoleLoginMFA, "failed login": evConsoleLoginFailed}},
		{"aws_cloudtrail_console_login_failed_authentication.yml",
			map[string]string{"failed": evConsoleLoginFailed},
			map[string]string{"success": evConsoleLoginNoMFA}},
		{"aws_update_login_profile.yml", // fieldref
			map[string]string{"another user's profile": evUpdateLoginProfile},
			map[string]string{"userName equal to the caller's ARN (ignoring case)": with(t, evUpdateLoginProfile, map[string]any{"requestParameters.userName": "ARN:AWS:IAM::123456789012:USER/ADMIN"}),
				"other event": evCreateAccessKey}},
		{"aws_cloudtrail_imds_malicious_usage.yml", // re
			map[string]string{"instance credentials used from outside": evListBucketsIMDS},
			map[string]string{"from AWS Internal": with(t, evListBucketsIMDS, map[string]any{"sourceIPAddress": "AWS Internal"}),
				"from SSM":      with(t, evListBucketsIMDS, map[string]any{"eventSource": "ssm.amazonaws.com"}),
				"a normal role": evSecurityGroupIngress}},
		{"aws_cloudtrail_bucket_deleted.yml",
			map[string]string{"no errorCode": evDeleteBucket,
				"errorCode Success": with(t, evDeleteBucket, map[string]any{"errorCode": "Success"})},
			map[string]string{"denied": with(t, evDeleteBucket, map[string]any{"errorCode": "AccessDenied"})}},
		{"aws_sts_assumerole_misuse.yml",
			map[string]string{"assumed role": evSecurityGroupIngress, "bucket policy": evPutBucketPolicy},
			map[string]string{"IAM user": evCreateAccessKey, "root": evStopLoggingRoot, "service": evDescribeInstancesService}},
		{"aws_root_account_usage.yml",
			map[string]string{"root API call": evStopLoggingRoot},
			map[string]string{"root service event": with(t, evStopLoggingRoot, map[string]any{"eventType": "AwsServiceEvent"}),
				"IAM user": evCreateAccessKey}},
		{"aws_iam_backdoor_users_keys.yml",
			// The filter compares the ARN with the literal text
			// "responseElements.accessKey.userName" (no fieldref), so it
			// never filters: Sigma semantics, faithfully.
			map[string]string{"key for another user": evCreateAccessKey,
				"key for oneself": with(t, evCreateAccessKey, map[string]any{"responseElements.accessKey.userName": "admin"})},
			map[string]string{"other event": evUpdateLoginProfile}},
		{"aws_cloudtrail_pua_trufflehog.yml",
			map[string]string{"TruffleHog": evGetCallerIdentityTruffleHog},
			map[string]string{"aws-cli": evCreateAccessKey}},
		{"aws_sts_getcalleridentity_trufflehog.yml",
			map[string]string{"TruffleHog": evGetCallerIdentityTruffleHog},
			map[string]string{"other agent": with(t, evGetCallerIdentityTruffleHog, map[string]any{"userAgent": "aws-cli/2.15.30"})}},
		{"aws_cloudtrail_security_group_change_ingress_egress.yml",
			map[string]string{"ingress": evSecurityGroupIngress},
			map[string]string{"describe": evDescribeInstancesService}},
		{"aws_ecs_task_definition_cred_endpoint_query.yml",
			map[string]string{"command reads the credentials URI": evRunTaskCredentials},
			map[string]string{"harmless command": with(t, evRunTaskCredentials, map[string]any{"requestParameters.containerDefinitions": []any{map[string]any{"command": []any{"echo", "hi"}}}})}},
		{"aws_rds_change_master_password.yml",
			map[string]string{"pending password change": evModifyDBInstancePassword},
			map[string]string{"storage change only": with(t, evModifyDBInstancePassword, map[string]any{"responseElements.pendingModifiedValues": map[string]any{"allocatedStorage": 200}})}},
		{"aws_rds_public_db_restore.yml",
			map[string]string{"JSON true against 'true'": dbRestore},
			map[string]string{"private": with(t, dbRestore, map[string]any{"responseElements.publiclyAccessible": false})}},
		{"aws_ec2_vm_export_failure.yml",
			map[string]string{"export without error": exportTask},
			map[string]string{"export with error": with(t, exportTask, map[string]any{"errorCode": "Client.UnsupportedOperation", "errorMessage": "not supported"}),
				"export failure response": with(t, exportTask, map[string]any{"responseElements.exportTask.state": "Failure"})}},
		{"aws_new_lambda_layer_attached.yml",
			map[string]string{"layer added": layer},
			map[string]string{"no layers": with(t, layer, map[string]any{"requestParameters.layers": deleted})}},
		{"aws_disable_bucket_versioning.yml",
			map[string]string{"suspended": with(t, evPutBucketPolicy, map[string]any{"eventName": "PutBucketVersioning", "requestParameters": map[string]any{"bucketName": "b", "VersioningConfiguration": map[string]any{"Status": "Suspended"}}})},
			map[string]string{"enabled": with(t, evPutBucketPolicy, map[string]any{"eventName": "PutBucketVersioning", "requestParameters": map[string]any{"bucketName": "b", "VersioningConfiguration": map[string]any{"Status": "Enabled"}}})}},
		{"aws_iam_s3browser_templated_s3_bucket_policy_creation.yml",
			map[string]string{"templated policy": s3browserPolicy},
			map[string]string{"real bucket name": with(t, s3browserPolicy, map[string]any{"requestParameters.policyDocument": strings.ReplaceAll(`{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::<YOUR-BUCKET-NAME>/*"]}`, "<YOUR-BUCKET-NAME>", "prod")})}},
		{"aws_susp_saml_activity.yml",
			map[string]string{"UpdateSAMLProvider": with(t, evCreateAccessKey, map[string]any{"eventName": "UpdateSAMLProvider"}),
				"AssumeRoleWithSAML": with(t, evCreateAccessKey, map[string]any{"eventSource": "sts.amazonaws.com", "eventName": "AssumeRoleWithSAML"})},
			map[string]string{"crossed source and name": with(t, evCreateAccessKey, map[string]any{"eventName": "AssumeRoleWithSAML"})}},
	} {
		r := byFile[c.file]
		if r == nil {
			t.Errorf("%s: not loaded", c.file)
			continue
		}
		e := NewEngine([]*Rule{r})
		check := func(name, rec string, want bool) {
			ev := decode(t, rec)
			if got := r.Match(testView(ev)); got != want {
				t.Errorf("%s: %s: Match = %v, want %v", c.file, name, got, want)
			}
			got := false
			e.Match(testView(ev), func(*Rule) { got = true })
			if got != want {
				t.Errorf("%s: %s: Engine.Match = %v, want %v", c.file, name, got, want)
			}
		}
		for name, rec := range c.match {
			check(name, rec, true)
		}
		for name, rec := range c.miss {
			check(name, rec, false)
		}
	}
}

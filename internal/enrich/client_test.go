package enrich

import "testing"

func TestUserAgentFamily(t *testing.T) {
	cases := []struct{ ua, family, tooling string }{
		{"aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0-1014-aws md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#s3.ls", "aws-cli", ""},
		{"aws-cli/1.32.60 Python/3.11.8 Linux/6.5.0-1014-aws botocore/1.34.60", "aws-cli", ""},
		{"aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#kali.2024 md/prompt#off md/command#sts.get-caller-identity", "aws-cli", "offensive:kali"},
		{"aws-cli/2.13.0 Python/3.11.4 Linux/6.1.0-kali9-amd64 exe/x86_64.kali.2023 prompt/off command/iam.list-users", "aws-cli", "offensive:kali"},
		{"Boto3/1.34.60 md/Botocore#1.34.60 ua/2.0 os/linux#6.1.0-parrot1-amd64 md/arch#x86_64 lang/python#3.11.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.60", "sdk-python", "offensive:parrot"},
		{"Boto3/1.9.201 Python/3.7.3 Linux/5.4.0-pentoo botocore/1.12.201", "sdk-python", "offensive:pentoo"},
		{"aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#4.14.336-257.562.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython exec-env/CloudShell cfg/retry-mode#standard md/installer#exe md/distrib#amzn.2 md/prompt#off md/command#ec2.describe-instances", "cloudshell", ""},
		{"Boto3/1.34.60 md/Botocore#1.34.60 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.60", "sdk-python", ""},
		{"Botocore/1.29.100 Python/3.9.16 Linux/5.10.0 Pacu", "sdk-python", "offensive:pacu"},
		{"aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.4", "sdk-go", ""},
		{"aws-sdk-go/1.44.300 (go1.20.5; linux; amd64)", "sdk-go", ""},
		{"TruffleHog aws-sdk-go/1.44.300 (go1.20.5; linux; amd64)", "sdk-go", "offensive:trufflehog"},
		{"[aws-sdk-java/1.12.600 Linux/5.10.209 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS java/17.0.10 vendor/Amazon.com_Inc.]", "sdk-java", ""},
		{"aws-sdk-java/2.25.10 Linux/5.10 OpenJDK_64-Bit_Server_VM/21 Java/21 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy", "sdk-java", ""},
		{"aws-sdk-js/3.540.0 ua/2.0 os/linux#5.15 lang/js md/nodejs#20.11.1 api/sts#3.540.0", "sdk-javascript", ""},
		{"aws-sdk-nodejs/2.1580.0 linux/v18.19.1 exec-env/AWS_Lambda_nodejs18.x", "sdk-javascript", ""},
		{"aws-sdk-dotnet-coreclr/3.7.300.10 aws-sdk-dotnet-core/3.7.303.5 .NET_Core/8.0.2 OS/Microsoft_Windows_10.0.19045 ClientAsync", "sdk-dotnet", ""},
		{"AWSPowerShell/4.1.530 .NET_Runtime/4.0 .NET_Framework/4.0 OS/Microsoft_Windows_NT_10.0.19045.0 WindowsPowerShell/5.1 ClientSync aws-sdk-dotnet-core/3.7", "powershell", ""},
		{"aws-sdk-ruby3/3.191.3 ruby/3.2.2 x86_64-linux aws-sdk-s3/1.143.0", "sdk-ruby", ""},
		{"aws-sdk-php/3.300.0 OS/Linux/5.15.0 lang/php/8.2.16 GuzzleHttp/7", "sdk-php", ""},
		{"aws-sdk-rust/1.1.7 os/linux lang/rust/1.76.0", "sdk-rust", ""},
		{"aws-sdk-cpp/1.11.250 Linux/5.15 x86_64 GCC/11.4.0", "sdk-cpp", ""},
		{"APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 ua/2.0 os/linux lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.149.3", "terraform", ""},
		{"aws-sdk-go/1.44.122 (go1.19.3; linux; amd64) APN/1.0 HashiCorp/1.0 Terraform/1.3.4 (+https://www.terraform.io)", "terraform", ""},
		{"pulumi-aws/6.28.0 aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.5 Pulumi/3.110.0", "pulumi", ""},
		{"aws-sdk-js/2.1580.0 linux/v20.11.1 aws-cdk/2.133.0 promise", "cdk", ""},
		{"cloudformation.amazonaws.com", "cloudformation", ""},
		{"console.amazonaws.com", "console", ""},
		{"console.ec2.amazonaws.com", "console", ""},
		{"signin.amazonaws.com", "console", ""},
		{"[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.216-182.855.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard]", "console", ""},
		{"AWS Internal", "aws-internal", ""},
		{"aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.216-182.855.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard", "aws-internal", ""},
		{"lambda.amazonaws.com", "aws-service", ""},
		{"amazon-ssm-agent/3.3.40.0", "ssm-agent", ""},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36", "browser", ""},
		{"S3 Browser/11.5.7 https://s3browser.com", FamilyOther, "suspicious:s3-browser"},
		{"rclone/v1.66.0", FamilyOther, "suspicious:rclone"},
		{"Cyberduck/8.7.2.40976 (Mac OS X/14.3.1) (x86_64)", FamilyOther, "suspicious:cyberduck"},
		{"python-requests/2.31.0", "http-client", "suspicious:python-requests"},
		{"curl/8.5.0", "http-client", "suspicious:curl"},
		{"Wget/1.21.4", "http-client", "suspicious:wget"},
		{"Go-http-client/1.1", "http-client", "suspicious:go-http-client"},
		{"PostmanRuntime/7.36.3", "http-client", "suspicious:postman"},
		{"Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", "browser", "offensive:nmap"},
		{"sqlmap/1.8#stable (https://sqlmap.org)", FamilyOther, "offensive:sqlmap"},
		{"Boto3/1.26.0 Python/3.10 Linux/5.15 Botocore/1.29.0 Prowler/3.16.0", "sdk-python", "audit:prowler"},
		{"Scout Suite/5.14.0 Boto3/1.34.0", "sdk-python", "audit:scoutsuite"},
		{"Boto3/1.20 Python/3.8 cloudmapper", "sdk-python", "audit:cloudmapper"},
		{"aws-sdk-nodejs/2.1000 CloudSploit", "sdk-javascript", "audit:cloudsploit"},
		{"CloudBrute/1.0", FamilyOther, "offensive:cloudbrute"},
		{"weirdAAL/0.1 Boto3/1.9", "sdk-python", "offensive:weirdaal"},
		{"aws-sdk-go/1.50 cloudfox/1.13.0", "sdk-go", "offensive:cloudfox"},
		// A word, not a substring: "alkaline" is not Kali, "curling" is not curl.
		{"alkaline-deployer/1.0 curling/2", FamilyOther, ""},
		{"my-homegrown-tool/0.1", FamilyOther, ""},
	}
	e := newEnricher(t, Options{})
	v := e.NewView()
	for _, c := range cases {
		// Twice each: the second answer comes from the View's cache.
		for range 2 {
			v.Reset(decode(t, `{"eventVersion":"1.09","eventType":"AwsApiCall","eventSource":"s3.amazonaws.com","userAgent":`+quote(c.ua)+`}`))
			if f, tool := v.UserAgentFamily(), v.Tooling(); f != c.family || tool != c.tooling {
				t.Errorf("%q:\n got %q %q, want %q %q", c.ua, f, tool, c.family, c.tooling)
			}
		}
	}
	// No user agent.
	v.Reset(decode(t, `{"eventVersion":"1.09"}`))
	if f, tool := v.UserAgentFamily(), v.Tooling(); f != "" || tool != "" {
		t.Errorf("no user agent: %q %q", f, tool)
	}
}

// A browser is the console on console sign-ins and console actions, and
// only there.
func TestBrowserOnConsole(t *testing.T) {
	e := newEnricher(t, Options{})
	v := e.NewView()
	v.Reset(decode(t, iamUserConsoleNoMFA))
	if f := v.UserAgentFamily(); f != "console" {
		t.Errorf("ConsoleLogin in a browser: %q", f)
	}
	v.Reset(decode(t, identityCenterUser)) // the access portal: an API call from a browser
	if f, c := v.UserAgentFamily(), v.Console(); f != "browser" || c {
		t.Errorf("portal call: family %q console %v", f, c)
	}
	v.Reset(decode(t, `{"eventVersion":"1.09","eventType":"AwsConsoleAction","eventSource":"ec2.amazonaws.com","userAgent":"Mozilla/5.0 (X11; Linux x86_64)"}`))
	if f, c := v.UserAgentFamily(), v.Console(); f != "console" || !c {
		t.Errorf("console action: family %q console %v", f, c)
	}
	// A console user agent alone makes a console call.
	v.Reset(decode(t, `{"eventVersion":"1.09","eventType":"AwsApiCall","eventSource":"ec2.amazonaws.com","userAgent":"console.ec2.amazonaws.com"}`))
	if !v.Console() {
		t.Error("console user agent: not console")
	}
	// And sessionCredentialFromConsole as a JSON bool, as some records have it.
	v.Reset(decode(t, `{"eventVersion":"1.09","eventType":"AwsApiCall","userAgent":"AWS Internal","sessionCredentialFromConsole":true}`))
	if !v.Console() {
		t.Error("sessionCredentialFromConsole: true: not console")
	}
	v.Reset(decode(t, `{"eventVersion":"1.09","eventType":"AwsApiCall","userAgent":"AWS Internal","sessionCredentialFromConsole":"false"}`))
	if v.Console() {
		t.Error(`sessionCredentialFromConsole: "false": console`)
	}
}

func TestContainsWord(t *testing.T) {
	cases := []struct {
		s, tok string
		want   bool
	}{
		{"kali", "kali", true},
		{"md/distrib#kali.2024", "kali", true},
		{"linux/6.1.0-kali9-amd64", "kali", true},
		{"alkaline", "kali", false},
		{"kalix kali", "kali", true}, // a later occurrence counts
		{"curl/8", "curl", true},
		{"libcurl/8", "curl", false},
		{"", "kali", false},
	}
	for _, c := range cases {
		if got := containsWord(c.s, c.tok); got != c.want {
			t.Errorf("containsWord(%q, %q) = %v", c.s, c.tok, got)
		}
	}
}

func quote(s string) string {
	b := []byte{'"'}
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}

package cli

import (
	"context"

	"github.com/trailsentry/trailsentry/internal/ingest"
)

// newS3Source returns the S3 reader for the s3:// PATH arguments, or nil
// when there are none: the AWS configuration is loaded only when S3 is
// used. sel prunes what is listed.
func newS3Source(ctx context.Context, paths []string, pathStyle bool, sel ingest.Selection) (*ingest.S3, error) {
	if !ingest.HasS3(paths) {
		return nil, nil
	}
	src, err := ingest.NewS3(ctx, ingest.S3Config{PathStyle: pathStyle})
	if err != nil {
		return nil, err
	}
	src.Select(sel)
	return src, nil
}

// selection is the part of the event filter that prunes S3 listings: the
// day folders of --since/--until, and the --account and --region folders.
func (f *eventFilter) selection() ingest.Selection {
	return ingest.Selection{Since: f.since, Until: f.until, Accounts: f.accounts, Regions: f.regions}
}

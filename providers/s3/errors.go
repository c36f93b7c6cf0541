package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/valetgw/valet/providers"
)

// codes maps S3 error codes to the contract's codes. Anything not listed
// falls back to the HTTP status (see statusCode).
var codes = map[string]providers.Code{
	"NoSuchKey":    providers.NotFound,
	"NotFound":     providers.NotFound,
	"NoSuchBucket": providers.NotFound,
	"NoSuchUpload": providers.NotFound,

	// A key the backend knows, refused this operation (least privilege).
	// "Forbidden" is the bare 403 of a HEAD, which has no body to tell
	// the two apart (see Configure's probe).
	"AccessDenied":      providers.PermissionDenied,
	"Forbidden":         providers.PermissionDenied,
	"AllAccessDisabled": providers.PermissionDenied,

	// Credentials the backend does not accept at all.
	"InvalidAccessKeyId":    providers.Unauthenticated,
	"SignatureDoesNotMatch": providers.Unauthenticated,
	"ExpiredToken":          providers.Unauthenticated,
	"InvalidToken":          providers.Unauthenticated,
	"TokenRefreshRequired":  providers.Unauthenticated,
	"InvalidSecurity":       providers.Unauthenticated,

	"PreconditionFailed":         providers.AlreadyExists,
	"ConditionalRequestConflict": providers.AlreadyExists,

	"InvalidPart":       providers.FailedPrecondition,
	"InvalidPartOrder":  providers.FailedPrecondition,
	"EntityTooSmall":    providers.FailedPrecondition,
	"EntityTooLarge":    providers.InvalidArgument,
	"InvalidArgument":   providers.InvalidArgument,
	"InvalidRequest":    providers.InvalidArgument,
	"KeyTooLongError":   providers.InvalidArgument,
	"InvalidBucketName": providers.InvalidArgument,
	"MalformedXML":      providers.InvalidArgument,
	"BadDigest":         providers.InvalidArgument,

	"NotImplemented": providers.Unimplemented,

	"SlowDown":                   providers.Unavailable,
	"ServiceUnavailable":         providers.Unavailable,
	"InternalError":              providers.Unavailable,
	"RequestTimeout":             providers.Unavailable,
	"XMinioServerNotInitialized": providers.Unavailable,
}

// mapError turns an SDK error into a *providers.Error. The message names the
// operation, the key, the S3 error code and the HTTP status. It deliberately
// does not wrap the SDK error: that one can carry request URLs and server
// messages that do not belong in gateway responses or logs.
func mapError(op, key string, err error) error {
	if err == nil {
		return nil
	}
	where := "s3 " + op
	if key != "" {
		where += fmt.Sprintf(" %q", key)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &providers.Error{Code: providers.Unavailable, Message: where + ": " + contextErr(err).Error()}
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, ok := codes[ae.ErrorCode()]
		if !ok {
			code = statusCode(status)
		}
		msg := fmt.Sprintf("%s: %s", where, ae.ErrorCode())
		if status != 0 {
			msg += fmt.Sprintf(" (HTTP %d)", status)
		}
		return &providers.Error{Code: code, Message: msg}
	}
	if status != 0 {
		return &providers.Error{Code: statusCode(status), Message: fmt.Sprintf("%s: HTTP %d", where, status)}
	}
	var ne net.Error
	var oe *net.OpError
	var rse *smithyhttp.RequestSendError
	switch {
	case errors.As(err, &oe):
		// "dial tcp 127.0.0.1:9000: connect: connection refused", without
		// the request URL that the outer *url.Error would add.
		return &providers.Error{Code: providers.Unavailable, Message: where + ": backend unreachable: " + oe.Error()}
	case errors.As(err, &ne), errors.As(err, &rse):
		return &providers.Error{Code: providers.Unavailable, Message: where + ": backend unreachable"}
	}
	return &providers.Error{Code: providers.Internal, Message: where + ": unexpected error"}
}

// contextErr returns the context error inside err.
func contextErr(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// statusCode classifies an HTTP status from S3: as providers.StatusCode
// but for 412 (a create-only If-None-Match refused), 409, 501 and other
// client errors, which mean the request was wrong.
func statusCode(status int) providers.Code {
	code := providers.StatusCode(status)
	switch {
	case status == http.StatusPreconditionFailed:
		return providers.AlreadyExists
	case status == http.StatusConflict:
		return providers.FailedPrecondition
	case status == http.StatusNotImplemented:
		return providers.Unimplemented
	case code == providers.Internal && status >= 400 && status < 500:
		return providers.InvalidArgument
	}
	return code
}

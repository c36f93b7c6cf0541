package azure

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/valetgw/valet/providers"
)

// mapError gives err a provider code. what names the resource for the
// message. Azure's response dump (headers, body, URL) is not copied into the
// message: only the error code and status are.
func mapError(err error, what string) error {
	if err == nil {
		return nil
	}
	var pe *providers.Error
	if errors.As(err, &pe) {
		return err
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code := codeForResponse(re.ErrorCode, re.StatusCode)
		return &providers.Error{Code: code, Message: fmt.Sprintf("%s: azure %s (HTTP %d)", what, re.ErrorCode, re.StatusCode), Err: err}
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		return &providers.Error{Code: providers.Unauthenticated, Message: what + ": Azure AD authentication failed", Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return &providers.Error{Code: providers.Unavailable, Message: what + ": Azure Blob Storage unreachable: " + err.Error(), Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &providers.Error{Code: providers.Unavailable, Message: what + ": canceled", Err: err}
	}
	return &providers.Error{Code: providers.Internal, Message: what + ": " + err.Error(), Err: err}
}

// codeForResponse maps an Azure error code (x-ms-error-code), or failing
// that the HTTP status, to a provider code.
func codeForResponse(azCode string, status int) providers.Code {
	switch bloberror.Code(azCode) {
	case bloberror.BlobNotFound, bloberror.ContainerNotFound, bloberror.ResourceNotFound:
		return providers.NotFound
	case bloberror.BlobAlreadyExists, bloberror.ContainerAlreadyExists:
		return providers.AlreadyExists
	case bloberror.AuthenticationFailed, bloberror.InvalidAuthenticationInfo:
		// A wrong account key or SAS signature, an unknown account.
		return providers.Unauthenticated
	case bloberror.AuthorizationFailure, bloberror.AuthorizationPermissionMismatch, bloberror.AuthorizationProtocolMismatch,
		bloberror.AuthorizationSourceIPMismatch, bloberror.AuthorizationResourceTypeMismatch,
		bloberror.AuthorizationServiceMismatch, bloberror.InsufficientAccountPermissions:
		return providers.PermissionDenied
	case bloberror.InvalidBlockList, bloberror.InvalidBlockID, bloberror.ConditionNotMet,
		bloberror.MD5Mismatch, bloberror.LeaseIDMissing, bloberror.LeaseIDMismatchWithBlobOperation:
		return providers.FailedPrecondition
	case bloberror.ServerBusy, bloberror.OperationTimedOut, bloberror.InternalError:
		return providers.Unavailable
	}
	return providers.StatusCode(status)
}

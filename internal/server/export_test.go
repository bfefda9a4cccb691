package server

// Exported for the external tests of the error presenter and recovery.
var (
	PresentError = presentError
	RecoverPanic = recoverPanic
)

// WithRequestLogForTest exposes the recovery/logging middleware.
var WithRequestLogForTest = withRequestLog

// CheckExtension is the guard use applies to every handler extension.
var CheckExtension = checkExtension

// AppendExtensions is how responses write their extensions.
var AppendExtensions = appendExtensions

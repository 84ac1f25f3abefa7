// A refusal or failure, shown where it happened and announced by screen readers (role="alert"),
// with the API's own words (ApiError.message).
export function ErrorAlert({ message }: { message: string | null | undefined }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null
}

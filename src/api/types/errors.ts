/** Docker's error body: every non-2xx JSON response carries one. */
export interface ErrorResponse {
  message: string;
}

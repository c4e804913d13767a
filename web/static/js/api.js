// The pages' client of the API: the key (this tab's sessionStorage only), the token, JSON
// calls that turn the error envelope into an ApiError, uploads with progress, outputs as blobs.

const KEY_ITEM = "bgremove.apiKey";
let token = null; // { value, expiresAt }: memory only, a new tab asks for a new one

/** An answer that was not a success: the API's own message, code and HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    const envelope = body && typeof body === "object" ? body : {};
    super(envelope.message || `The server answered HTTP ${status}.`);
    this.status = status;
    this.code = envelope.error?.code || "";
    this.body = envelope;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_ITEM) || "";
}

export function storeKey(key) {
  token = null;
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

/** The parsed JSON of a response (null when it is not JSON), so errors keep their message. */
async function json(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/** A valid access token for the stored key, from POST /api/token (renewed before expiry). */
export async function accessToken() {
  if (token && Date.now() < token.expiresAt) return token.value;
  const key = storedKey();
  if (!key) throw new ApiError(401, { message: "Enter your API key first.",
                                      error: { code: "no_key" } });
  const response = await fetch("/api/token", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ key }),
  });
  const body = await json(response);
  if (!response.ok) throw new ApiError(response.status, body);
  // A minute early: a request started just before expiry must not carry a dead token.
  token = { value: body.access_token, expiresAt: Date.now() + (body.expires_in - 60) * 1000 };
  return token.value;
}

/** fetch() with the token; one retry with a fresh token when the old one was refused. */
async function authorized(path, options = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const headers = { ...(options.headers || {}),
                      Authorization: `Bearer ${await accessToken()}` };
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401 && attempt === 0 && token) {
      token = null; // expired or revoked: ask again once, with the key
      continue;
    }
    return response;
  }
}

/** A JSON call: the body on success, else an ApiError with the API's message. */
export async function call(path, options = {}) {
  const response = await authorized(path, options);
  const body = await json(response);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

/** A job's output as a Blob, from the gateway (never from the object store's origin). */
export async function output(jobId) {
  const response = await authorized(`/api/v1/jobs/${encodeURIComponent(jobId)}/output`);
  if (!response.ok) throw new ApiError(response.status, await json(response));
  return response.blob();
}

/**
 * POST a multipart form with upload progress (fetch() cannot report it; XMLHttpRequest can).
 * Resolves to { status, body, jobId }; onProgress(sentBytes, totalBytes) while uploading,
 * onSent() once the body is out and the server is working.
 */
export async function upload(path, form, { onProgress, onSent } = {}) {
  const bearer = await accessToken();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Authorization", `Bearer ${bearer}`);
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total);
    });
    xhr.upload.addEventListener("load", () => onSent && onSent());
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body, jobId: xhr.getResponseHeader("X-Job-Id") });
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, {
      message: "The request did not reach the server (network error or connection closed).",
    })));
    xhr.send(form);
  });
}

/** The text to show a person for any error: the API's message, its code and status. */
export function describe(err) {
  if (err instanceof ApiError) {
    const extra = [err.code, err.status ? `HTTP ${err.status}` : ""].filter(Boolean);
    return extra.length ? `${err.message} (${extra.join(", ")})` : err.message;
  }
  return `Something went wrong in this page: ${err && err.message ? err.message : err}`;
}

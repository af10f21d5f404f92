// Same-origin calls to the JSON query API; the login cookie authenticates them.

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

export async function getJSON<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json' } })
  if (!response.ok) throw new ApiError(response.status, `${path}: HTTP ${response.status}`)
  return (await response.json()) as T
}

export async function patchJSON<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  })
  if (!response.ok) throw new ApiError(response.status, `${path}: HTTP ${response.status}`)
  return (await response.json()) as T
}

export async function getHTML(path: string): Promise<string> {
  const response = await fetch(path, { headers: { accept: 'text/html' } })
  return await response.text()
}

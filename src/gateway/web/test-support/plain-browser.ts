/**
 * Test support: a cookie jar over fetch, as a browser without JavaScript would send forms to the gateway's
 * pages (redirects not followed, so a test sees each answer).
 */
export class PlainBrowser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async request(
    route: string,
    init: RequestInit = {},
  ): Promise<{ status: number; text: string; headers: Headers }> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0)
      headers.set("cookie", [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    const response = await fetch(`${this.base}${route}`, { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const [name, ...value] = pair!.split("=");
      if (/Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name!);
      else this.cookies.set(name!, value.join("="));
    }
    return { status: response.status, text: await response.text(), headers: response.headers };
  }

  /** The CSRF token of the page's first form. */
  async csrf(route: string): Promise<string> {
    const page = await this.request(route);
    return /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
  }

  async post(route: string, form: Record<string, string>) {
    return this.request(route, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
  }

  /** Signs in with a participant's or an organizer's token. */
  async signIn(token: string) {
    return this.post("/signin", { _csrf: await this.csrf("/signin"), token });
  }
}

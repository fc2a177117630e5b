import type { Router } from 'vue-router'
import { safeNext } from '@/router'
import type { useAuthStore } from '@/stores/auth'

type AuthStore = ReturnType<typeof useAuthStore>

/**
 * Every page but sign-in wants a signed-in user, and a user who must set up two-factor sign-in (MFA_REQUIRED) sees
 * only the Security page. The session is asked for once when the app loads; after that the REST API's 401 (the
 * session ended) and 403 mfa_required keep the store right. The server enforces all of this itself: this only
 * spares the user a page that would fail.
 */
export function installAuthGuard(router: Router, auth: AuthStore): void {
  router.beforeEach(async (to) => {
    if (!auth.checked) {
      try {
        await auth.refresh()
      } catch {
        return true // the server does not answer: the page shows the banner and retries
      }
    }
    if (to.name === 'sign-in') return auth.user ? safeNext(to.query.next) : true
    if (!auth.user) return { name: 'sign-in', query: { next: to.fullPath } }
    if (auth.user.mfa_setup_required && to.name !== 'security') return { name: 'security' }
    return true
  })
}

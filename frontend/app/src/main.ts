import 'element-plus/theme-chalk/dark/css-vars.css'
import './styles.css'
import { createPinia } from 'pinia'
import { createApp } from 'vue'
import { apiHooks } from '@/api'
import App from '@/App.vue'
import { i18n } from '@/i18n'
import { goToSignIn, router } from '@/router'
import { installAuthGuard } from '@/router/guard'
import { useAuthStore } from '@/stores/auth'
import { useUiStore } from '@/stores/ui'

const app = createApp(App)
app.use(createPinia())
app.use(i18n)
const ui = useUiStore()
const auth = useAuthStore()
// Before app.use(router), which starts the first navigation: that one must pass the guard too.
installAuthGuard(router, auth)
app.use(router)

apiHooks.onUnauthenticated = () => {
  auth.expire()
  goToSignIn()
}
apiHooks.onTwoFactorRequired = () => {
  auth.requireTwoFactorSetup()
  void router.push({ name: 'security' })
}
apiHooks.onUnavailable = (message) => ui.markUnavailable(message)
apiHooks.onAvailable = () => ui.markAvailable()

void router.isReady().then(() => app.mount('#app'))

import 'element-plus/theme-chalk/dark/css-vars.css'
import './styles.css'
import { createPinia } from 'pinia'
import { createApp } from 'vue'
import { apiHooks } from '@/api'
import App from '@/App.vue'
import { i18n } from '@/i18n'
import { goToSignIn, router } from '@/router'
import { useUiStore } from '@/stores/ui'

const app = createApp(App)
app.use(createPinia())
app.use(i18n)
app.use(router)

const ui = useUiStore()
apiHooks.onUnauthenticated = goToSignIn
apiHooks.onUnavailable = (message) => ui.markUnavailable(message)
apiHooks.onAvailable = () => ui.markAvailable()

void router.isReady().then(() => app.mount('#app'))

// Short confirmations after an action ("Saved"), Element Plus's message with its styles (imported here, since a
// function call is not a component the on-demand resolver sees).
import 'element-plus/es/components/message/style/css'
import { ElMessage } from 'element-plus'

export const notify = {
  success: (message: string) => ElMessage({ message, type: 'success', grouping: true }),
  error: (message: string) => ElMessage({ message, type: 'error', grouping: true, duration: 6000 }),
}

// A shop page: "Check out" totals a cart whose refund line exceeds its price, so
// formatPrice (util/format.ts), called by Cart.total (cart.ts), throws.
import { Cart } from './cart'

function checkout(out: HTMLElement): void {
  const cart = new Cart().add('tea', 450).add('refund', -900)
  out.textContent = cart.rows().join(', ')
  out.textContent += ` = ${cart.total()}`
}

const button = document.getElementById('checkout') as HTMLButtonElement
button.addEventListener('click', () => checkout(document.getElementById('total') as HTMLElement))

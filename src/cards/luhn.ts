// The Luhn check (ISO/IEC 7812) every card number passes: used to make card numbers and to keep
// them out of the logs. No imports, so the logger can use it.

/** True when `digits` passes the Luhn check (ISO/IEC 7812), as every card number must. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

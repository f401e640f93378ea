// Spanish default templates. SMS wording keeps to the GSM-7 alphabet, which has é ñ ü ¿ ¡ but not
// á í ó ú: a single "código" would make the message UCS-2 (70 characters a segment, not 160) and
// double or triple its price. So the SMS texts choose words without those letters ("clave" for
// code, "ingreso" for sign-in, "movimiento" for transaction) instead of misspelling. Email is
// UTF-8, so it is written with every accent.
import type { NotificationTypeId } from '../catalogue.ts';
import type { DefaultTemplate } from './english.ts';

const STOP = 'Responda STOP para darse de baja.';
const NOT_YOU = '¿No fue usted? Llame ya al teléfono de su tarjeta.';
const SIGN_OFF = '\n\nDominionTrust Bank\nNunca le pediremos su contraseña ni un código por correo, mensaje o teléfono.';

const email = (subject: string, body: string) => ({ subject, body: `${body}${SIGN_OFF}` });

export const SPANISH: Record<NotificationTypeId, DefaultTemplate> = {
  two_factor_code: {
    sms: 'DominionTrust: su clave para ingresar es {code}. Vence en {minutes} minutos. Nunca le pediremos esta clave. Responda HELP para ayuda.',
  },
  phone_verification_code: {
    sms: 'DominionTrust: su clave para verificar este teléfono es {code}. Vence en {minutes} minutos. Nunca le pediremos esta clave.',
  },
  transfer_confirmation_code: {
    sms: 'DominionTrust: la clave {code} confirma su transferencia de {amount} a {payee}. Vence en {minutes} min. Nunca le pediremos esta clave.',
  },
  suspicious_activity: {
    sms: `DominionTrust: detectamos {activity} el {time}. ${NOT_YOU}`,
    email: email('Actividad inusual en su cuenta',
      'Detectamos {activity} el {time}.\n\n' +
      'Si no fue usted, llame ahora al teléfono que figura al dorso de su tarjeta y cambie su contraseña.'),
  },
  new_device_login: {
    sms: `DominionTrust: nuevo ingreso desde {device} cerca de {location} el {time}. ${NOT_YOU}`,
    email: email('Nuevo inicio de sesión en su cuenta',
      'Se inició sesión en su cuenta desde un dispositivo nuevo: {device}, cerca de {location}, el {time}.\n\n' +
      'Si no fue usted, llame ahora al teléfono que figura al dorso de su tarjeta y cambie su contraseña.'),
  },
  account_lockout: {
    sms: 'DominionTrust: su acceso a la banca digital fue bloqueado por demasiados intentos fallidos. Para desbloquearlo, llame al teléfono de su tarjeta.',
    email: email('Su banca en línea está bloqueada',
      'Su acceso a la banca en línea se bloqueó tras demasiados intentos fallidos.\n\n' +
      'Para desbloquearlo, llame al teléfono que figura al dorso de su tarjeta.'),
  },
  transaction: {
    sms: `DominionTrust: movimiento de {amount}, {merchant}, cuenta terminada en {account_last4}. Saldo {balance}. ${STOP}`,
    email: email('Movimiento en su cuenta',
      'Se registró un movimiento de {amount} ({merchant}) en su cuenta terminada en {account_last4}.\n\nSu saldo es {balance}.'),
  },
  low_balance: {
    sms: `DominionTrust: la cuenta terminada en {account_last4} tiene {balance}, menos que su alerta de {threshold}. ${STOP}`,
    email: email('Saldo bajo',
      'El saldo de su cuenta terminada en {account_last4} es {balance}, menor que los {threshold} que nos pidió vigilar.'),
  },
  large_transaction: {
    sms: 'DominionTrust: movimiento importante de {amount}, {merchant}, cuenta terminada en {account_last4}. ¿No fue usted? Llame al teléfono de su tarjeta.',
    email: email('Movimiento importante en su cuenta',
      'Se registró un movimiento importante de {amount} ({merchant}) en su cuenta terminada en {account_last4}.\n\n' +
      'Si no lo hizo usted, llame ahora al teléfono que figura al dorso de su tarjeta.'),
  },
  transfer_sent: {
    sms: 'DominionTrust: ha enviado {amount} a {payee} desde la cuenta terminada en {account_last4}. ¿No fue usted? Llame al teléfono de su tarjeta.',
    email: email('Transferencia enviada',
      'Ha enviado {amount} a {payee} desde su cuenta terminada en {account_last4}.\n\n' +
      'Si no fue usted, llame ahora al teléfono que figura al dorso de su tarjeta.'),
  },
  transfer_received: {
    sms: `DominionTrust: ha recibido {amount} de {payer} en la cuenta terminada en {account_last4}. ${STOP}`,
    email: email('Dinero recibido', 'Ha recibido {amount} de {payer} en su cuenta terminada en {account_last4}.'),
  },
  welcome: {
    sms: 'DominionTrust: le damos la bienvenida, {first_name}. Su cuenta ya fue activada. Responda HELP para ayuda o STOP para darse de baja.',
    email: email('Bienvenido/a a DominionTrust', '¡Le damos la bienvenida, {first_name}!\n\nSu cuenta ya está activa. Nos alegra tenerle con nosotros.'),
  },
  password_changed: {
    sms: `DominionTrust: su contraseña fue cambiada el {time}. ${NOT_YOU} ${STOP}`,
    email: email('Se cambió su contraseña',
      'La contraseña de su banca en línea se cambió el {time}.\n\n' +
      'Si no la cambió usted, llame ahora al teléfono que figura al dorso de su tarjeta.'),
  },
  two_factor_changed: {
    sms: `DominionTrust: nueva app autenticadora o claves de respaldo para ingresar, el {time}. ${NOT_YOU}`,
    email: email('Cambió la configuración de su ingreso',
      'Se activó una app autenticadora o un nuevo juego de claves de respaldo para ingresar a su cuenta el {time}.\n\n' +
      'Si no fue usted, llame ahora al teléfono que figura al dorso de su tarjeta.'),
  },
  phone_changed: {
    sms: `DominionTrust: el teléfono de su cuenta fue cambiado a uno terminado en {phone_last4} el {time}. ${NOT_YOU}`,
    email: email('Se cambió su número de teléfono',
      'El teléfono móvil de su cuenta se cambió a uno terminado en {phone_last4} el {time}.\n\n' +
      'Si no lo cambió usted, llame ahora al teléfono que figura al dorso de su tarjeta.'),
  },
  card_created: {
    sms: 'DominionTrust: su nueva tarjeta terminada en {card_last4} ha sido creada. Responda HELP para ayuda o STOP para darse de baja.',
    email: email('Su nueva tarjeta', 'Su nueva tarjeta terminada en {card_last4} está lista.'),
  },
  card_blocked: {
    sms: `DominionTrust: la tarjeta terminada en {card_last4} ha sido bloqueada. ¿No fue usted? Llame al teléfono de su tarjeta. ${STOP}`,
    email: email('Su tarjeta está bloqueada',
      'Su tarjeta terminada en {card_last4} está bloqueada y no se puede usar.\n\n' +
      'Si no lo pidió usted, llame al teléfono que figura al dorso de su tarjeta.'),
  },
  card_expiring: {
    sms: `DominionTrust: la tarjeta terminada en {card_last4} vence en {expires}. Le enviaremos una nueva por correo. ${STOP}`,
    email: email('Su tarjeta vence pronto', 'Su tarjeta terminada en {card_last4} vence en {expires}. Le enviaremos una nueva por correo postal.'),
  },
  kyc_status: {
    sms: `DominionTrust: hay novedades sobre el control de su identidad. Ingrese a la app de DominionTrust para verlas. ${STOP}`,
    email: email('Novedades sobre la verificación de su identidad',
      'Hay novedades sobre la verificación de su identidad.\n\nIngrese a la app de DominionTrust o a la banca en línea para verlas.'),
  },
  test_message: {
    sms: 'DominionTrust: mensaje de prueba. Si puede leerlo, los SMS funcionan. No tiene que hacer nada.',
    email: email('Mensaje de prueba', 'Este es un mensaje de prueba. Si puede leerlo, el correo funciona. No tiene que hacer nada.'),
  },
  preferences_changed: {
    sms: `DominionTrust: se cambiaron sus avisos el {time}. ¿No fue usted? Llame al teléfono de su tarjeta. ${STOP}`,
    email: email('Se cambiaron sus preferencias de avisos',
      'Sus preferencias de avisos (canales, horas de silencio, resumen, idioma, consentimiento de SMS o la forma de recibir códigos) se cambiaron el {time}.\n\n' +
      'Si no fue usted, llame ahora al teléfono que figura al dorso de su tarjeta.'),
  },
  phone_unreachable: {
    email: email('Nuestros mensajes de texto no llegan a su teléfono',
      'Desde el {time}, nuestros mensajes de texto a su número terminado en {phone_last4} no se han entregado, así que hemos dejado de enviarle textos.\n\n' +
      'Mientras tanto:\n' +
      '- sus avisos le llegan por correo electrónico;\n' +
      '- para iniciar sesión, pida su código por llamada de voz o use su aplicación de autenticación o un código de respaldo.\n\n' +
      'Para solucionarlo:\n' +
      '1. Revise el número: si ha cambiado, actualícelo en la aplicación DominionTrust (Perfil > Número móvil).\n' +
      '2. Asegúrese de que sea un móvil que pueda recibir textos (no un fijo), con los mensajes activados, y pregunte a su operador si bloquea los textos de empresas.\n' +
      '3. Si nos respondió STOP, responda START.\n' +
      '4. Llame al teléfono que figura al dorso de su tarjeta para que revisemos el número y volvamos a enviarle textos.'),
  },
};
